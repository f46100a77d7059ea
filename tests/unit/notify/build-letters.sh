#!/bin/sh
# Build and run notify's letter and mail_out unit tests.
#   tests/unit/notify/build-letters.sh          plain build, run
#   SANITIZE=1 tests/unit/notify/build-letters.sh   AddressSanitizer + UBSan build, run
# Binaries go to build/tests/unit/notify/ (build/ is ignored by git).
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT="$ROOT/build/tests/unit/notify${SANITIZE:+-san}"
mkdir -p "$OUT"

CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g"
if [ -n "${SANITIZE:-}" ]; then
    CFLAGS="$CFLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi
GMIME=$(pkg-config --cflags --libs gmime-3.0)
CURL=$(pkg-config --cflags --libs libcurl)
SRC="$ROOT/services/notify"

# shellcheck disable=SC2086
gcc $CFLAGS -DNOTIFY_TEMPLATES_DIR="\"$SRC/templates\"" \
    -o "$OUT/test_letter" "$ROOT/tests/unit/notify/test_letter.c" "$SRC/letter.c" \
    $GMIME -lcmocka
# shellcheck disable=SC2086
gcc $CFLAGS -DSMTP_SINK_PATH="\"$ROOT/tests/unit/notify/smtp_sink.py\"" \
    -o "$OUT/test_mail_out" "$ROOT/tests/unit/notify/test_mail_out.c" "$SRC/mail_out.c" \
    $CURL -lcmocka

"$OUT/test_letter"
"$OUT/test_mail_out"
