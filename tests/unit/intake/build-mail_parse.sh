#!/bin/sh
# Builds and runs the mail_parse unit tests twice: plain, then under ASan/UBSan.
# Usage: tests/unit/intake/build-mail_parse.sh [outdir]   (default: build/unit/intake)
# GMime/glib keep global caches (charset tables, type registry) for the life of the process;
# LeakSanitizer is therefore off (detect_leaks=0). Everything else ASan/UBSan check is on,
# and UBSan errors abort the run.
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:-"$root/build/unit/intake"}
mkdir -p "$out"
cflags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g"
pkgs="gmime-3.0 glib-2.0 cmocka"
deps="$(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs)"
src="$root/services/intake/mail_parse.c $root/common/cs_log.c $root/tests/unit/intake/test_mail_parse.c"
inc="-I$root/services/intake -I$root/common -DMAIL_TEST_DIR=\"$root/tests/unit/intake/mail\""

# shellcheck disable=SC2086
gcc $cflags -O2 $inc $deps $src $libs -o "$out/test_mail_parse"
# shellcheck disable=SC2086
gcc $cflags -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
    $inc $deps $src $libs -o "$out/test_mail_parse_asan"

echo "== plain"
MAIL_PARSE_LOG="$out/mail_parse_corpus.log" "$out/test_mail_parse"
echo "== asan+ubsan"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    MAIL_PARSE_LOG="$out/mail_parse_corpus_asan.log" "$out/test_mail_parse_asan"
echo "corpus log: $out/mail_parse_corpus.log"
