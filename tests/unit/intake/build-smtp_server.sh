#!/bin/sh
# Builds and runs the smtp_server unit tests twice: a plain build and one
# under AddressSanitizer + UndefinedBehaviorSanitizer. Run from anywhere;
# binaries go to build/unit/intake/ under the repository root.
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${BUILD_DIR:-$ROOT/build/unit/intake}
mkdir -p "$OUT"
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g"
SRC="$ROOT/services/intake/smtp_server.c $ROOT/tests/unit/intake/test_smtp_server.c"
LIBS="$(pkg-config --libs cmocka 2>/dev/null || echo -lcmocka) -lssl -lcrypto -lpthread"

gcc $CFLAGS -O1 -o "$OUT/test_smtp_server" $SRC $LIBS
gcc $CFLAGS -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined -o "$OUT/test_smtp_server_asan" $SRC $LIBS

"$OUT/test_smtp_server"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$OUT/test_smtp_server_asan"
