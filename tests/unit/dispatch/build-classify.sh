#!/bin/sh
# Build and run the classifier's unit tests, once plainly and once under
# AddressSanitizer + UndefinedBehaviorSanitizer.  Run from anywhere:
#   tests/unit/dispatch/build-classify.sh          (both builds)
#   SAN=0 tests/unit/dispatch/build-classify.sh    (plain build only)
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${OUT:-$ROOT/build/tests/unit/dispatch}
mkdir -p "$OUT"
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -I$ROOT/services/dispatch"
CFLAGS="$CFLAGS -DCLASSIFY_RULES_PATH=\"$ROOT/services/dispatch/rules/classify.rules\""
SRC="$ROOT/services/dispatch/classify.c $ROOT/tests/unit/dispatch/test_classify.c"
LIBS=$(pkg-config --libs cmocka)

gcc $CFLAGS -O1 -o "$OUT/test_classify" $SRC $LIBS
"$OUT/test_classify"
if [ "${SAN:-1}" != 0 ]; then
    gcc $CFLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
        -o "$OUT/test_classify-asan" $SRC $LIBS
    "$OUT/test_classify-asan"
fi
