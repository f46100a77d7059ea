#!/bin/sh
# Build and run the survey link and survey page unit tests, once plainly and
# once under AddressSanitizer + UndefinedBehaviorSanitizer.  Run from anywhere:
#   tests/unit/survey/build-survey.sh          (both builds)
#   SAN=0 tests/unit/survey/build-survey.sh    (plain build only)
set -eu
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${OUT:-$ROOT/build/tests/unit/survey}
mkdir -p "$OUT"
CFLAGS="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -I$ROOT/services/survey"
CFLAGS="$CFLAGS $(pkg-config --cflags libcrypto cmocka)"
LIBS="$(pkg-config --libs libcrypto cmocka)"
SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

build_and_run() { # <name> <sources...>
    name=$1
    shift
    gcc $CFLAGS -O1 -o "$OUT/$name" "$@" $LIBS
    "$OUT/$name"
    if [ "${SAN:-1}" != 0 ]; then
        gcc $CFLAGS $SAN_FLAGS -o "$OUT/$name-asan" "$@" $LIBS
        "$OUT/$name-asan"
    fi
}

build_and_run test_survey_link "$ROOT/services/survey/survey_link.c" \
    "$ROOT/tests/unit/survey/test_survey_link.c"
build_and_run test_survey_page "$ROOT/services/survey/survey_page.c" \
    "$ROOT/tests/unit/survey/test_survey_page.c"
