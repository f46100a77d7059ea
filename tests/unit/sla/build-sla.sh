#!/bin/sh
# Build and run sla-monitor's unit tests through the top-level Makefile (which
# links tests/unit/sla/test_*.c against the service's objects), once plainly
# and once under AddressSanitizer + UndefinedBehaviorSanitizer.
#   tests/unit/sla/build-sla.sh          (both builds)
#   SAN=0 tests/unit/sla/build-sla.sh    (plain build only)
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
TESTS="test_clock test_calendar test_preview test_policy test_recompute"
for t in $TESTS; do
    make --no-print-directory -s build/tests/unit/sla/$t
    build/tests/unit/sla/$t
done
if [ "${SAN:-1}" != 0 ]; then
    for t in $TESTS; do
        make --no-print-directory -s BUILD=build/asan SAN=1 OPT=-O1 build/asan/tests/unit/sla/$t
        ASAN_OPTIONS=detect_leaks=1 build/asan/tests/unit/sla/$t
    done
fi
