/*
 * mail_parse.c — one customer e-mail in, the ticket-relevant facts out.
 *
 * Why not just ask GMime for everything: our customers write from Chinese, Japanese and
 * Korean clients that (a) label GBK text "gb2312", (b) split one multibyte character across
 * two RFC 2047 encoded-words, and (c) send undeclared 8-bit bodies. GMime 3.2 decodes each
 * encoded-word on its own and loses the rest of a header after a split character, and it
 * converts bodies with whatever the label says. So this file:
 *
 *   1. rewrites every run of adjacent encoded-words in the raw bytes into one UTF-8
 *      encoded-word (decoding with our own charset rules) before GMime sees the message;
 *   2. lets GMime do the MIME structure, addresses, parameters (RFC 2231), dates and ids;
 *   3. converts body text itself (s_to_utf8) with superset charsets and byte replacement;
 *   4. classifies the sender as person / auto-reply / bulk / bounce from headers and
 *      report parts.
 *
 * Everything that leaves this file is valid UTF-8 without NUL (s_clean).
 */
#include "cs_log.h"
#include "mail_parse.h"

#include <gmime/gmime.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest encoded-word we accept (RFC says 75; real mailers write longer ones). */
#define S_EWORD_MAX 8192
/* Raw bytes of one text part considered for the body text. */
#define S_TEXT_PART_MAX (4u * MAIL_PARSE_MAX_TEXT)
/* Walk at most this many MIME parts. */
#define S_MAX_PARTS 4000
/* At most this many References ids kept. */
#define S_MAX_REFERENCES 256

static GMimeParserOptions *s_options;

static gpointer s_init_once(gpointer unused)
{
    static const char *fallback[] = {"utf-8", "gb18030", "iso-8859-1", NULL};
    (void)unused;
    g_mime_init();
    s_options = g_mime_parser_options_new();
    g_mime_parser_options_set_rfc2047_compliance_mode(s_options, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(s_options, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(s_options, GMIME_RFC_COMPLIANCE_LOOSE);
    /* undeclared 8-bit header bytes: UTF-8, then GB18030, then latin1 (never fails) */
    g_mime_parser_options_set_fallback_charsets(s_options, fallback);
    return NULL;
}

void mail_parse_init(void)
{
    static GOnce once = G_ONCE_INIT;
    g_once(&once, s_init_once, NULL);
}

const char *mail_kind_name(mail_kind_t kind)
{
    switch (kind) {
    case MAIL_KIND_AUTO_REPLY:
        return "auto_reply";
    case MAIL_KIND_BULK:
        return "bulk";
    case MAIL_KIND_BOUNCE:
        return "bounce";
    default:
        return "normal";
    }
}

/* ------------------------------------------------------------------------------------------
 * Output hygiene
 */

/* Returns a new valid-UTF-8 string without NUL from len bytes (invalid bytes -> U+FFFD).
   If controls is set, other C0 controls (except \n and \t) become spaces too: used for
   header values, where a CR or LF would be a lie about line structure. */
static char *s_clean_len(const char *s, size_t len, int controls)
{
    GString *tmp = g_string_sized_new(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            continue;
        if (controls && (c < 0x20 || c == 0x7f) && c != '\t')
            c = ' ';
        g_string_append_c(tmp, (char)c);
    }
    char *valid = g_utf8_make_valid(tmp->str, (gssize)tmp->len);
    g_string_free(tmp, TRUE);
    return valid;
}

/* Header value: cleaned, controls flattened, trimmed; NULL if nothing left and !keep_empty. */
static char *s_clean_header(const char *s, int keep_empty)
{
    if (!s)
        return keep_empty ? g_strdup("") : NULL;
    char *c = s_clean_len(s, strlen(s), 1);
    g_strstrip(c);
    if (!*c && !keep_empty) {
        g_free(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------------------------------
 * Charset conversion
 *
 * Labels map to the superset the sending client really uses (gb2312 -> GB18030, big5 -> CP950,
 * shift_jis -> CP932, euc-kr / ks_c_5601-1987 -> CP949 ...). A text is tried strictly in
 * each candidate, then in UTF-8 and GB18030; if nothing fits it is converted from the first
 * candidate with invalid bytes replaced by U+FFFD. No label: UTF-8, GB18030, latin1.
 */

typedef struct {
    const char *label;
    const char *candidates[3];
} s_charset_alias_t;

static const s_charset_alias_t s_aliases[] = {
    {"gb2312", {"GB18030"}},
    {"gbk", {"GB18030"}},
    {"gb18030", {"GB18030"}},
    {"x-gbk", {"GB18030"}},
    {"cp936", {"GB18030"}},
    {"ms936", {"GB18030"}},
    {"windows-936", {"GB18030"}},
    {"euc-cn", {"GB18030"}},
    {"x-euc-cn", {"GB18030"}},
    {"csgb2312", {"GB18030"}},
    {"gb_2312-80", {"GB18030"}},
    {"chinese", {"GB18030"}},
    {"hz-gb-2312", {"HZ-GB-2312", "GB18030"}},
    {"big5", {"CP950", "BIG5-HKSCS"}},
    {"x-big5", {"CP950", "BIG5-HKSCS"}},
    {"cn-big5", {"CP950", "BIG5-HKSCS"}},
    {"csbig5", {"CP950", "BIG5-HKSCS"}},
    {"cp950", {"CP950", "BIG5-HKSCS"}},
    {"big5-hkscs", {"BIG5-HKSCS", "CP950"}},
    {"shift_jis", {"CP932", "SHIFT_JISX0213"}},
    {"shift-jis", {"CP932", "SHIFT_JISX0213"}},
    {"sjis", {"CP932", "SHIFT_JISX0213"}},
    {"x-sjis", {"CP932", "SHIFT_JISX0213"}},
    {"ms_kanji", {"CP932", "SHIFT_JISX0213"}},
    {"csshiftjis", {"CP932", "SHIFT_JISX0213"}},
    {"windows-31j", {"CP932", "SHIFT_JISX0213"}},
    {"cp932", {"CP932", "SHIFT_JISX0213"}},
    {"iso-2022-jp", {"ISO-2022-JP-2", "ISO-2022-JP-3"}},
    {"csiso2022jp", {"ISO-2022-JP-2", "ISO-2022-JP-3"}},
    {"iso-2022-jp-2", {"ISO-2022-JP-2", "ISO-2022-JP-3"}},
    {"euc-jp", {"EUC-JP-MS", "EUC-JP"}},
    {"x-euc-jp", {"EUC-JP-MS", "EUC-JP"}},
    {"euc-kr", {"CP949"}},
    {"ks_c_5601-1987", {"CP949"}},
    {"ks_c_5601", {"CP949"}},
    {"ksc5601", {"CP949"}},
    {"korean", {"CP949"}},
    {"cp949", {"CP949"}},
    {"uhc", {"CP949"}},
    {"windows-949", {"CP949"}},
    {"iso-2022-kr", {"ISO-2022-KR", "CP949"}},
    {"iso-8859-1", {"WINDOWS-1252", "ISO-8859-1"}},
    {"latin1", {"WINDOWS-1252", "ISO-8859-1"}},
    {"us-ascii", {NULL}}, /* a lie often enough: treat as undeclared */
    {"ascii", {NULL}},
    {"unknown-8bit", {NULL}},
    {"x-unknown", {NULL}},
};

/* Converts in[0..len) from charset to UTF-8 into out. strict: stop at the first invalid or
   truncated sequence and return -1. Otherwise invalid bytes become U+FFFD and the number of
   replacements is returned. Returns -2 if iconv does not know the charset. */
static long s_iconv(const char *charset, const char *in, size_t len, int strict, GString *out)
{
    GIConv cd = g_iconv_open("UTF-8", charset);
    if (cd == (GIConv)-1)
        return -2;
    long replaced = 0;
    char buf[4096];
    gchar *inp = (gchar *)in;
    gsize inleft = len;
    while (inleft > 0) {
        gchar *outp = buf;
        gsize outleft = sizeof(buf);
        gsize rc = g_iconv(cd, &inp, &inleft, &outp, &outleft);
        int e = errno;
        g_string_append_len(out, buf, (gssize)(sizeof(buf) - outleft));
        if (rc != (gsize)-1 || e == E2BIG)
            continue;
        if (strict) {
            replaced = -1;
            goto out_close;
        }
        g_string_append(out, "\xEF\xBF\xBD");
        replaced++;
        if (e == EINVAL) /* truncated sequence at the end */
            break;
        inp++;
        inleft--;
        g_iconv(cd, NULL, NULL, NULL, NULL);
    }
    { /* flush shift state (ISO-2022-*) */
        gchar *outp = buf;
        gsize outleft = sizeof(buf);
        g_iconv(cd, NULL, NULL, &outp, &outleft);
        g_string_append_len(out, buf, (gssize)(sizeof(buf) - outleft));
    }
out_close:
    g_iconv_close(cd);
    return replaced;
}

/* Candidate iconv charsets for a label (NULL-terminated, maybe empty = undeclared). */
static void s_candidates(const char *label, const char *cand[4], char *iconv_name, size_t n)
{
    memset(cand, 0, 4 * sizeof(*cand));
    if (!label || !*label)
        return;
    char *low = g_ascii_strdown(label, -1);
    g_strstrip(low);
    for (size_t i = 0; i < G_N_ELEMENTS(s_aliases); i++) {
        if (strcmp(low, s_aliases[i].label) == 0) {
            for (size_t k = 0; k < 3 && s_aliases[i].candidates[k]; k++)
                cand[k] = s_aliases[i].candidates[k];
            g_free(low);
            return;
        }
    }
    /* anything else: GMime's name table knows the common aliases (utf8, latin-2, ...) */
    const char *name = g_mime_charset_iconv_name(low);
    snprintf(iconv_name, n, "%s", name ? name : low);
    cand[0] = iconv_name;
    g_free(low);
}

/* The conversion everyone uses: bytes in some declared (or no) charset -> new UTF-8 string. */
static char *s_to_utf8(const char *in, size_t len, const char *label)
{
    const char *cand[4];
    char iconv_name[64];
    GString *out;

    if (len == 0)
        return g_strdup("");
    s_candidates(label, cand, iconv_name, sizeof(iconv_name));
    out = g_string_sized_new(len + len / 2 + 1);
    if (!g_utf8_validate(in, (gssize)len, NULL) || memchr(in, 0, len)) {
        const char *tries[] = {cand[0], cand[1], cand[2], "UTF-8", "GB18030"};
        for (size_t i = 0; i < G_N_ELEMENTS(tries); i++) {
            if (!tries[i])
                continue;
            g_string_truncate(out, 0);
            if (s_iconv(tries[i], in, len, 1, out) >= 0)
                goto out_clean;
        }
        g_string_truncate(out, 0);
        if (!cand[0] || s_iconv(cand[0], in, len, 0, out) < 0) {
            g_string_truncate(out, 0);
            s_iconv("ISO-8859-1", in, len, 0, out);
        }
        goto out_clean;
    }
    /* valid UTF-8 bytes: still honour a declared non-UTF-8 label that fits (pure ASCII
       and ISO-2022-* escapes are valid UTF-8 too) */
    if (cand[0] && g_ascii_strcasecmp(cand[0], "UTF-8") != 0) {
        for (size_t i = 0; i < 3 && cand[i]; i++) {
            g_string_truncate(out, 0);
            if (s_iconv(cand[i], in, len, 1, out) >= 0)
                goto out_clean;
        }
    }
    g_string_truncate(out, 0);
    g_string_append_len(out, in, (gssize)len);
out_clean : {
    char *clean = s_clean_len(out->str, out->len, 0);
    g_string_free(out, TRUE);
    return clean;
}
}

/* ------------------------------------------------------------------------------------------
 * RFC 2047 pre-pass
 *
 * Finds runs of encoded-words separated only by (folding) white space, decodes the bytes of
 * each same-charset stretch together (so a character split across words survives), converts
 * with s_to_utf8, and writes the run back as a single =?UTF-8?B?...?= word. GMime then only
 * ever sees UTF-8 encoded-words.
 */

typedef struct {
    const char *charset; /* not terminated */
    size_t charset_len;
    char encoding; /* 'B' or 'Q' */
    const char *text;
    size_t text_len;
    size_t total_len; /* bytes from "=?" to "?=" inclusive */
} s_eword_t;

static int s_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Recognises an encoded-word at p (which starts with "=?"). Returns 1 and fills w. */
static int s_eword_scan(const char *p, const char *end, s_eword_t *w)
{
    const char *q = p + 2;
    const char *cs = q;
    while (q < end && *q != '?' && !s_is_ws(*q) && q - cs < 64)
        q++;
    if (q >= end || *q != '?' || q == cs)
        return 0;
    w->charset = cs;
    w->charset_len = (size_t)(q - cs);
    /* RFC 2231 language suffix: charset*lang */
    const char *star = memchr(cs, '*', w->charset_len);
    if (star)
        w->charset_len = (size_t)(star - cs);
    if (end - q < 3 || q[2] != '?')
        return 0;
    char enc = g_ascii_toupper(q[1]);
    if (enc != 'B' && enc != 'Q')
        return 0;
    w->encoding = enc;
    q += 3;
    const char *txt = q;
    while (q + 1 < end && !(q[0] == '?' && q[1] == '=') && !s_is_ws(*q) && q - txt < S_EWORD_MAX)
        q++;
    if (q + 1 >= end || q[0] != '?' || q[1] != '=')
        return 0;
    w->text = txt;
    w->text_len = (size_t)(q - txt);
    w->total_len = (size_t)(q + 2 - p);
    return 1;
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = g_ascii_toupper(c);
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Appends the decoded bytes of one encoded-word to bytes. */
static void s_eword_decode(const s_eword_t *w, GByteArray *bytes)
{
    if (w->encoding == 'B') {
        /* mailers drop or miscount the '=' padding: strip it and pad to a multiple of 4 */
        size_t n = w->text_len;
        while (n > 0 && w->text[n - 1] == '=')
            n--;
        char *padded = g_malloc(n + 4);
        memcpy(padded, w->text, n);
        while (n % 4)
            padded[n++] = '=';
        guchar *tmp = g_malloc(n + 3);
        gint state = 0;
        guint save = 0;
        gsize got = g_base64_decode_step(padded, n, tmp, &state, &save);
        g_byte_array_append(bytes, tmp, (guint)got);
        g_free(tmp);
        g_free(padded);
        return;
    }
    for (size_t i = 0; i < w->text_len; i++) {
        char c = w->text[i];
        guint8 b = (guint8)c;
        if (c == '_') {
            b = ' ';
        } else if (c == '=' && i + 2 < w->text_len) {
            int hi = s_hexval(w->text[i + 1]);
            int lo = s_hexval(w->text[i + 2]);
            if (hi >= 0 && lo >= 0) { /* a broken "=zz" stays literal */
                b = (guint8)(hi * 16 + lo);
                i += 2;
            }
        }
        g_byte_array_append(bytes, &b, 1);
    }
}

/* Converts the pending same-charset bytes to UTF-8 and appends them to run. */
static void s_flush_pending(GByteArray *pending, const char *charset, GString *run)
{
    if (pending->len == 0)
        return;
    char *utf8 = s_to_utf8((const char *)pending->data, pending->len, charset);
    g_string_append(run, utf8);
    g_free(utf8);
    g_byte_array_set_size(pending, 0);
}

/* Skips folding white space after an encoded-word; returns where the next word would
   start, or NULL if the run ends (end of header line, or end of input). */
static const char *s_skip_fws(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ' ' || *p == '\t') {
            p++;
        } else if (*p == '\r' || *p == '\n') {
            const char *q = p + (*p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1);
            if (q < end && (*q == ' ' || *q == '\t'))
                p = q;
            else
                return NULL;
        } else {
            return p;
        }
    }
    return NULL;
}

/* Handles one run of encoded-words starting at p; appends its replacement to out and
   returns the position after the run's last word. */
static const char *s_rewrite_run(const char *p, const char *end, GByteArray *out)
{
    GString *run = g_string_new(NULL);
    GByteArray *pending = g_byte_array_new();
    char charset[65] = "";
    s_eword_t w;

    while (s_eword_scan(p, end, &w)) {
        char cs[65];
        snprintf(cs, sizeof(cs), "%.*s", (int)w.charset_len, w.charset);
        if (g_ascii_strcasecmp(cs, charset) != 0) {
            s_flush_pending(pending, charset, run);
            snprintf(charset, sizeof(charset), "%s", cs);
        }
        s_eword_decode(&w, pending);
        p += w.total_len;
        const char *next = s_skip_fws(p, end);
        if (!next || end - next < 2 || next[0] != '=' || next[1] != '?')
            break;
        s_eword_t peek;
        if (!s_eword_scan(next, end, &peek))
            break;
        p = next;
    }
    s_flush_pending(pending, charset, run);

    /* a header value must stay on its line: flatten controls before re-encoding */
    for (size_t i = 0; i < run->len; i++)
        if ((unsigned char)run->str[i] < 0x20 || run->str[i] == 0x7f)
            run->str[i] = ' ';
    if (run->len > 0) {
        gchar *b64 = g_base64_encode((const guchar *)run->str, run->len);
        g_byte_array_append(out, (const guint8 *)"=?UTF-8?B?", 10);
        g_byte_array_append(out, (const guint8 *)b64, (guint)strlen(b64));
        g_byte_array_append(out, (const guint8 *)"?=", 2);
        g_free(b64);
    }
    g_byte_array_free(pending, TRUE);
    g_string_free(run, TRUE);
    return p;
}

/* The whole pre-pass. Also drops a leading mbox "From " line. Returns a new byte array.
   Applied to the whole message, not only header sections: base64 and quoted-printable
   bodies cannot contain "=?", and an encoded-word literally typed into a plain-text body is
   harmless to decode. */
static GByteArray *s_normalize_raw(const char *raw, size_t len)
{
    const char *p = raw, *end = raw + len;
    if (len > 5 && memcmp(raw, "From ", 5) == 0) {
        const char *nl = memchr(raw, '\n', len);
        p = nl ? nl + 1 : end;
    }
    GByteArray *out = g_byte_array_sized_new((guint)(end - p) + 64);
    while (p < end) {
        const char *hit = memchr(p, '=', (size_t)(end - p));
        if (!hit) {
            g_byte_array_append(out, (const guint8 *)p, (guint)(end - p));
            break;
        }
        g_byte_array_append(out, (const guint8 *)p, (guint)(hit - p));
        s_eword_t w;
        if (end - hit >= 2 && hit[1] == '?' && s_eword_scan(hit, end, &w)) {
            p = s_rewrite_run(hit, end, out);
        } else {
            g_byte_array_append(out, (const guint8 *)hit, 1);
            p = hit + 1;
        }
    }
    return out;
}

/* ------------------------------------------------------------------------------------------
 * Per-message parser options
 *
 * Raw 8-bit header bytes carry no label. The best hint is the charset the same client
 * declared for the body (a Taiwanese client writing a raw Big5 subject declares big5 for
 * the body; decoding that subject as GB18030 would give plausible-looking nonsense), else
 * the charset of its first encoded-word. So the fallback list for one message is: UTF-8,
 * that declared charset, GB18030, latin1.
 */

static char *s_html_meta_charset(const char *html, size_t len);

/* The charset parameter of the top-level Content-Type, or NULL. Looks at most at the first
   64 KiB, stops at the end of the header section. */
static char *s_top_charset(const char *raw, size_t len)
{
    const char *end = raw + MIN(len, 65536u);
    const char *line = raw, *ct = NULL;
    while (line < end && *line != '\r' && *line != '\n') {
        if (end - line > 13 && g_ascii_strncasecmp(line, "content-type:", 13) == 0)
            ct = line;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            break;
        if (ct && nl + 1 < end && nl[1] != ' ' && nl[1] != '\t')
            return s_html_meta_charset(ct, (size_t)(nl - ct));
        line = nl + 1;
    }
    return NULL;
}

/* The charset of the first encoded-word in the header section ("=?windows-1252?B?…"), or
   NULL: when the top level declares none, the same client's choice for its encoded words
   is the next best hint for its raw 8-bit header bytes (a Portuguese client writing a raw
   latin1 subject beside a =?Windows-1252?…?= name; read as GB18030 it would be nonsense). */
static char *s_eword_charset(const char *raw, size_t len)
{
    const char *end = raw + MIN(len, 65536u);
    for (const char *p = raw; p + 1 < end; p++) {
        if (*p == '\n' && p + 2 < end && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')))
            return NULL; /* end of the header section */
        s_eword_t w;
        if (p[0] == '=' && p[1] == '?' && s_eword_scan(p, end, &w))
            return g_strndup(w.charset, w.charset_len);
    }
    return NULL;
}

static GMimeParserOptions *s_message_options(const char *raw, size_t len)
{
    char *label = s_top_charset(raw, len);
    if (!label)
        label = s_eword_charset(raw, len);
    const char *cand[4];
    char iconv_name[64];
    s_candidates(label, cand, iconv_name, sizeof(iconv_name));
    g_free(label);
    GMimeParserOptions *opts = g_mime_parser_options_clone(s_options);
    const char *fallback[] = {"utf-8", cand[0], "gb18030", "iso-8859-1", NULL};
    if (!cand[0] || g_ascii_strcasecmp(cand[0], "utf-8") == 0)
        memmove(&fallback[1], &fallback[2], 3 * sizeof(fallback[0]));
    g_mime_parser_options_set_fallback_charsets(opts, fallback);
    return opts;
}

/* ------------------------------------------------------------------------------------------
 * HTML to readable text
 */

typedef struct {
    const char *name;
    const char *utf8;
} s_entity_t;

static const s_entity_t s_entities[] = {
    {"amp", "&"},
    {"lt", "<"},
    {"gt", ">"},
    {"quot", "\""},
    {"apos", "'"},
    {"nbsp", " "},
    {"copy", "\xC2\xA9"},
    {"reg", "\xC2\xAE"},
    {"middot", "\xC2\xB7"},
    {"yen", "\xC2\xA5"},
    {"euro", "\xE2\x82\xAC"},
    {"mdash", "\xE2\x80\x94"},
    {"ndash", "\xE2\x80\x93"},
    {"hellip", "\xE2\x80\xA6"},
    {"ldquo", "\xE2\x80\x9C"},
    {"rdquo", "\xE2\x80\x9D"},
    {"lsquo", "\xE2\x80\x98"},
    {"rsquo", "\xE2\x80\x99"},
    {"bull", "\xE2\x80\xA2"},
    {"times", "\xC3\x97"},
    {"deg", "\xC2\xB0"},
};

/* Decodes the entity at p ('&'); appends it and returns bytes consumed, or 0 if none. */
static size_t s_html_entity(const char *p, const char *end, GString *out)
{
    const char *semi = memchr(p, ';', (size_t)MIN(end - p, 12));
    if (!semi || semi - p < 3)
        return 0;
    if (p[1] == '#') {
        gunichar u = 0;
        const char *q = p + 2;
        int hex = (*q == 'x' || *q == 'X');
        if (hex)
            q++;
        if (q == semi)
            return 0;
        for (; q < semi; q++) {
            int v = hex ? s_hexval(*q) : (g_ascii_isdigit(*q) ? *q - '0' : -1);
            if (v < 0)
                return 0;
            u = u * (hex ? 16 : 10) + (gunichar)v;
            if (u > 0x10FFFF)
                u = 0x110000;
        }
        if (u == 0 || u == 0xA0 || !g_unichar_validate(u))
            u = u == 0xA0 ? ' ' : 0xFFFD;
        g_string_append_unichar(out, u);
        return (size_t)(semi - p + 1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(s_entities); i++) {
        size_t n = strlen(s_entities[i].name);
        if ((size_t)(semi - p - 1) == n && g_ascii_strncasecmp(p + 1, s_entities[i].name, n) == 0) {
            g_string_append(out, s_entities[i].utf8);
            return n + 2;
        }
    }
    return 0;
}

/* Finds the '>' closing a tag, honouring quoted attribute values. */
static const char *s_tag_end(const char *p, const char *end)
{
    char quote = 0;
    for (; p < end; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '>') {
            return p;
        }
    }
    return NULL;
}

/* Case-insensitive search for needle in [p, end). */
static const char *s_find_ci(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; p + n <= end; p++)
        if (g_ascii_strncasecmp(p, needle, n) == 0)
            return p;
    return NULL;
}

static int s_tag_is(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return 1;
    return 0;
}

/* Handles one tag starting at p ('<'); returns where scanning continues. */
static const char *s_html_tag(const char *p, const char *end, GString *out, int *in_pre)
{
    static const char *const skip_body[] = {"script",   "style",    "head", "title",
                                            "noscript", "template", NULL};
    static const char *const breaks[] = {
        "br",  "div", "tr",         "table",   "ul",      "ol",      "dl",     "dt",     "dd",
        "pre", "hr",  "blockquote", "section", "article", "header",  "footer", "center", "h1",
        "h2",  "h3",  "h4",         "h5",      "h6",      "address", NULL};
    if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
        const char *c = s_find_ci(p + 4, end, "-->");
        return c ? c + 3 : end;
    }
    const char *q = p + 1;
    int closing = (q < end && *q == '/');
    if (closing)
        q++;
    char name[16];
    size_t n = 0;
    while (q < end && g_ascii_isalnum(*q) && n < sizeof(name) - 1)
        name[n++] = g_ascii_tolower(*q++);
    name[n] = '\0';
    if (n == 0 && !(q < end && (*q == '!' || *q == '?'))) {
        g_string_append_c(out, '<'); /* a lone '<' in text */
        return p + 1;
    }
    const char *gt = s_tag_end(q, end);
    if (!gt)
        return end;
    if (!closing && s_tag_is(name, skip_body)) {
        char close[20];
        snprintf(close, sizeof(close), "</%s", name);
        const char *c = s_find_ci(gt + 1, end, close);
        if (c) {
            const char *cgt = s_tag_end(c, end);
            return cgt ? cgt + 1 : end;
        }
        /* unterminated <head>: keep going, the body may follow; others: drop the rest */
        return strcmp(name, "head") == 0 ? gt + 1 : end;
    }
    if (strcmp(name, "pre") == 0)
        *in_pre = !closing;
    if (strcmp(name, "p") == 0)
        g_string_append(out, "\n\n");
    else if (strcmp(name, "li") == 0 && !closing)
        g_string_append(out, "\n- ");
    else if (strcmp(name, "li") != 0 && s_tag_is(name, breaks))
        g_string_append_c(out, '\n');
    else if ((strcmp(name, "td") == 0 || strcmp(name, "th") == 0) && !closing)
        g_string_append_c(out, ' ');
    return gt + 1;
}

/* Trims each line, drops blank lines at both ends and collapses runs of blank lines to one. */
static char *s_tidy_lines(const char *s)
{
    GString *out = g_string_sized_new(strlen(s) + 1);
    gchar **lines = g_strsplit(s, "\n", -1);
    int blank_pending = 0;
    for (gchar **l = lines; *l; l++) {
        g_strstrip(*l);
        if (!**l) {
            blank_pending = out->len > 0;
            continue;
        }
        if (out->len > 0)
            g_string_append(out, blank_pending ? "\n\n" : "\n");
        g_string_append(out, *l);
        blank_pending = 0;
    }
    g_strfreev(lines);
    return g_string_free(out, FALSE);
}

/* HTML (already UTF-8) to plain text: tags stripped, scripts/styles/head dropped, entities
   decoded, block elements become line breaks, white space collapsed as a browser would. */
static char *s_html_to_text(const char *html, size_t len)
{
    const char *p = html, *end = html + len;
    GString *out = g_string_sized_new(len / 2 + 1);
    int in_pre = 0;
    while (p < end) {
        if (*p == '<') {
            p = s_html_tag(p, end, out, &in_pre);
        } else if (*p == '&') {
            size_t n = s_html_entity(p, end, out);
            if (!n)
                g_string_append_c(out, '&');
            p += n ? n : 1;
        } else if (s_is_ws(*p) && !in_pre) {
            if (out->len > 0 && out->str[out->len - 1] != ' ' && out->str[out->len - 1] != '\n')
                g_string_append_c(out, ' ');
            p++;
        } else {
            if (*p != '\r')
                g_string_append_c(out, *p);
            p++;
        }
    }
    char *tidy = s_tidy_lines(out->str);
    g_string_free(out, TRUE);
    return tidy;
}

/* <meta charset="x"> or <meta ... content="text/html; charset=x"> in the first 2 KiB.
   Also reads the charset parameter out of a raw Content-Type line. */
static char *s_html_meta_charset(const char *html, size_t len)
{
    const char *end = html + MIN(len, 2048);
    const char *c = s_find_ci(html, end, "charset=");
    if (!c)
        return NULL;
    c += 8;
    while (c < end && (*c == '"' || *c == '\'' || *c == ' '))
        c++;
    const char *s = c;
    while (c < end && (g_ascii_isalnum(*c) || *c == '-' || *c == '_') && c - s < 40)
        c++;
    return c > s ? g_strndup(s, (gsize)(c - s)) : NULL;
}

/* ------------------------------------------------------------------------------------------
 * Walking the MIME tree
 */

typedef struct {
    GString *text;      /* readable text of the current message */
    GString *forwarded; /* text of message/rfc822 parts, appended after the main text */
    GArray *attachments;
    int attachment_truncated;
    int parts;
    int saw_dsn;         /* a message/delivery-status part exists */
    char *dsn_recipient; /* from the DSN's per-recipient fields */
    char *dsn_status;
    char *returned_msgid; /* Message-ID of the returned message in a report */
} s_walk_t;

static void s_walk(s_walk_t *w, GMimeObject *obj, int depth, int want_text);

/* Decoded content bytes of a leaf part (transfer encoding undone). */
static GByteArray *s_part_bytes(GMimePart *part)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GMimeStream *mem = g_mime_stream_mem_new();
    if (content)
        g_mime_data_wrapper_write_to_stream(content, mem);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    g_object_unref(mem);
    return bytes;
}

static int s_type_is(GMimeObject *obj, const char *type, const char *subtype)
{
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    return ct && g_mime_content_type_is_type(ct, type, subtype);
}

static void s_append_block(GString *dst, const char *text)
{
    if (!text || !*text)
        return;
    if (dst->len > 0)
        g_string_append(dst, "\n\n");
    g_string_append(dst, text);
}

/* CRLF / CR -> LF; used on plain text so that one newline convention reaches the ticket. */
static char *s_unix_newlines(const char *s)
{
    GString *out = g_string_sized_new(strlen(s) + 1);
    for (; *s; s++) {
        if (*s == '\r') {
            g_string_append_c(out, '\n');
            if (s[1] == '\n')
                s++;
        } else {
            g_string_append_c(out, *s);
        }
    }
    return g_string_free(out, FALSE);
}

/* A text/plain or text/html body part: convert and append to the current text. */
static void s_take_text(s_walk_t *w, GMimePart *part, int html)
{
    if (w->text->len >= MAIL_PARSE_MAX_TEXT)
        return;
    GByteArray *bytes = s_part_bytes(part);
    size_t len = MIN(bytes->len, S_TEXT_PART_MAX);
    const char *charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    char *meta = NULL;
    if (html && !charset)
        charset = meta = s_html_meta_charset((const char *)bytes->data, len);
    char *utf8 = s_to_utf8((const char *)bytes->data, len, charset);
    char *text = html ? s_html_to_text(utf8, strlen(utf8)) : s_unix_newlines(utf8);
    s_append_block(w->text, text);
    g_free(text);
    g_free(utf8);
    g_free(meta);
    g_byte_array_free(bytes, TRUE);
}

/* Returns the first "key: value" value in a header-style block (unfolded), or NULL. */
static char *s_field(const char *block, const char *key)
{
    size_t klen = strlen(key);
    const char *p = block;
    while (p && *p) {
        if (g_ascii_strncasecmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            GString *val = g_string_new(NULL);
            for (;;) {
                const char *nl = strchr(v, '\n');
                g_string_append_len(val, v, nl ? nl - v : (gssize)strlen(v));
                if (!nl || (nl[1] != ' ' && nl[1] != '\t'))
                    break;
                v = nl + 1;
            }
            g_strstrip(val->str);
            return g_string_free(val, FALSE);
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

/* "rfc822; <User@Example.com>" -> "user@example.com" */
static char *s_dsn_addr(const char *value)
{
    const char *semi = strchr(value, ';');
    char *a = g_strdup(semi ? semi + 1 : value);
    g_strstrip(a);
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
        memmove(a, a + 1, n - 2);
        a[n - 2] = '\0';
    }
    char *clean = s_clean_header(a, 0);
    g_free(a);
    char *low = clean ? g_utf8_strdown(clean, -1) : NULL;
    g_free(clean);
    return low;
}

/* "5.1.1 (bad mailbox)" -> "5.1.1"; NULL unless it has the RFC 3463 shape. */
static char *s_dsn_status(const char *value)
{
    static GRegex *re;
    if (g_once_init_enter(&re)) {
        GRegex *r = g_regex_new("^([245]\\.[0-9]{1,3}\\.[0-9]{1,3})", 0, 0, NULL);
        g_once_init_leave(&re, r);
    }
    GMatchInfo *mi = NULL;
    char *status = NULL;
    if (g_regex_match(re, value, 0, &mi))
        status = g_match_info_fetch(mi, 1);
    g_match_info_free(mi);
    return status;
}

/* message/delivery-status: per-message block, then one block per recipient. The first
   recipient whose Action is "failed" wins; otherwise the first recipient. */
static void s_take_dsn(s_walk_t *w, GMimePart *part)
{
    w->saw_dsn = 1;
    if (w->dsn_recipient)
        return;
    GByteArray *bytes = s_part_bytes(part);
    char *text = s_clean_len((const char *)bytes->data, MIN(bytes->len, 1u << 20), 0);
    char *unix_text = s_unix_newlines(text);
    gchar **blocks = g_strsplit(unix_text, "\n\n", 512);
    for (gchar **b = blocks; *b; b++) {
        char *rcpt = s_field(*b, "Final-Recipient");
        if (!rcpt)
            rcpt = s_field(*b, "Original-Recipient");
        if (!rcpt)
            continue;
        char *status = s_field(*b, "Status");
        char *action = s_field(*b, "Action");
        int failed = action && g_ascii_strncasecmp(action, "failed", 6) == 0;
        if (!w->dsn_recipient || failed) {
            g_free(w->dsn_recipient);
            g_free(w->dsn_status);
            w->dsn_recipient = s_dsn_addr(rcpt);
            w->dsn_status = status ? s_dsn_status(status) : NULL;
        }
        g_free(rcpt);
        g_free(status);
        g_free(action);
        if (failed)
            break;
    }
    g_strfreev(blocks);
    g_free(unix_text);
    g_free(text);
    g_byte_array_free(bytes, TRUE);
}

/* text/rfc822-headers: the header section of a returned message (used only for bounces). */
static void s_take_returned_headers(s_walk_t *w, GMimePart *part)
{
    if (w->returned_msgid)
        return;
    GByteArray *bytes = s_part_bytes(part);
    char *text = s_clean_len((const char *)bytes->data, MIN(bytes->len, 1u << 20), 0);
    char *unix_text = s_unix_newlines(text);
    char *id = s_field(unix_text, "Message-ID");
    if (id) {
        char *decoded = g_mime_utils_decode_message_id(id);
        w->returned_msgid = s_clean_header(decoded, 0);
        g_free(decoded);
    }
    g_free(id);
    g_free(unix_text);
    g_free(text);
    g_byte_array_free(bytes, TRUE);
}

static void s_sha256_hex(const guint8 *data, size_t len, char hex[65])
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, data, (gssize)len);
    snprintf(hex, 65, "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
}

static void s_take_attachment(s_walk_t *w, GMimePart *part)
{
    if (w->attachments->len >= MAIL_PARSE_MAX_ATTACHMENTS) {
        w->attachment_truncated = 1;
        return;
    }
    GMimeObject *obj = GMIME_OBJECT(part);
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    mail_attachment_t a;
    memset(&a, 0, sizeof(a));
    char *mime = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("application/octet-stream");
    a.content_type = s_clean_header(mime, 1);
    g_free(mime);
    char *low = g_ascii_strdown(a.content_type, -1);
    g_free(a.content_type);
    a.content_type = low;
    a.filename = s_clean_header(g_mime_part_get_filename(part), 0);
    const char *disp = g_mime_object_get_disposition(obj);
    a.inline_part = (disp && g_ascii_strcasecmp(disp, "inline") == 0) ||
                    g_mime_object_get_content_id(obj) != NULL;
    GByteArray *bytes = s_part_bytes(part);
    a.size = bytes->len;
    s_sha256_hex(bytes->data, bytes->len, a.sha256);
    g_byte_array_free(bytes, TRUE);
    g_array_append_val(w->attachments, a);
}

/* A body part is text the sender typed: text/plain or text/html without a file name and
   not marked as an attachment. */
static int s_is_body_text(GMimeObject *obj, int *html)
{
    if (!s_type_is(obj, "text", "plain") && !s_type_is(obj, "text", "html"))
        return 0;
    GMimeContentDisposition *d = g_mime_object_get_content_disposition(obj);
    if (d && g_mime_content_disposition_is_attachment(d))
        return 0;
    if (g_mime_part_get_filename(GMIME_PART(obj)))
        return 0;
    *html = s_type_is(obj, "text", "html");
    return 1;
}

static int s_is_signature(GMimeObject *obj)
{
    return s_type_is(obj, "application", "pgp-signature") ||
           s_type_is(obj, "application", "pkcs7-signature") ||
           s_type_is(obj, "application", "x-pkcs7-signature");
}

static void s_walk_leaf(s_walk_t *w, GMimeObject *obj, int want_text)
{
    int html = 0;
    GMimePart *part = GMIME_PART(obj);
    if (s_type_is(obj, "message", "delivery-status") ||
        s_type_is(obj, "message", "global-delivery-status")) {
        s_take_dsn(w, part);
    } else if (s_type_is(obj, "text", "rfc822-headers")) {
        s_take_returned_headers(w, part);
    } else if (s_is_body_text(obj, &html)) {
        if (want_text)
            s_take_text(w, part, html);
    } else if (!s_is_signature(obj)) {
        s_take_attachment(w, part);
    }
}

/* multipart/alternative: the index of the child to read text from (text/plain first, then
   a nested multipart, then HTML, else the first). */
static int s_pick_alternative(GMimeMultipart *mp)
{
    int n = g_mime_multipart_get_count(mp), multi = -1, html = -1;
    for (int i = 0; i < n; i++) {
        GMimeObject *c = g_mime_multipart_get_part(mp, i);
        if (GMIME_IS_PART(c) && s_type_is(c, "text", "plain"))
            return i;
        if (GMIME_IS_MULTIPART(c) && multi < 0)
            multi = i;
        if (GMIME_IS_PART(c) && s_type_is(c, "text", "html") && html < 0)
            html = i;
    }
    return multi >= 0 ? multi : (html >= 0 ? html : 0);
}

static void s_walk_multipart(s_walk_t *w, GMimeMultipart *mp, int depth, int want_text)
{
    GMimeObject *obj = GMIME_OBJECT(mp);
    int n = g_mime_multipart_get_count(mp);
    int pick = -1;
    if (s_type_is(obj, "multipart", "alternative"))
        pick = s_pick_alternative(mp);
    for (int i = 0; i < n; i++) {
        int text_here = want_text && (pick < 0 || pick == i);
        s_walk(w, g_mime_multipart_get_part(mp, i), depth + 1, text_here);
    }
}

static void s_forward_header(GString *dst, GMimeMessage *msg)
{
    InternetAddressList *from = g_mime_message_get_from(msg);
    char *f = from ? internet_address_list_to_string(from, NULL, FALSE) : NULL;
    const char *subject = g_mime_message_get_subject(msg);
    if (f && *f)
        g_string_append_printf(dst, "From: %s\n", f);
    if (subject)
        g_string_append_printf(dst, "Subject: %s\n", subject);
    g_free(f);
}

/* message/rfc822: a forwarded (or returned) message. Its text goes after a separator line,
   its attachments join the list. The first one's Message-ID is kept: if the whole mail
   turns out to be a bounce, that is the message that bounced. */
static void s_walk_message(s_walk_t *w, GMimeMessagePart *mpart, int depth, int want_text)
{
    GMimeMessage *msg = g_mime_message_part_get_message(mpart);
    if (!msg)
        return;
    if (!w->returned_msgid)
        w->returned_msgid = s_clean_header(g_mime_message_get_message_id(msg), 0);
    GString *outer_text = w->text, *outer_fwd = w->forwarded;
    w->text = g_string_new(NULL);
    w->forwarded = g_string_new(NULL);
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    if (body)
        s_walk(w, body, depth + 1, want_text);
    if (want_text && outer_fwd->len < MAIL_PARSE_MAX_TEXT) {
        g_string_append(outer_fwd, "\n\n---------- Forwarded message ----------\n");
        s_forward_header(outer_fwd, msg);
        g_string_append_c(outer_fwd, '\n');
        g_string_append(outer_fwd, w->text->str);
        s_append_block(outer_fwd, w->forwarded->str);
    }
    g_string_free(w->text, TRUE);
    g_string_free(w->forwarded, TRUE);
    w->text = outer_text;
    w->forwarded = outer_fwd;
}

/* Visits one MIME object: bounded by depth and by the total number of parts. */
static void s_walk(s_walk_t *w, GMimeObject *obj, int depth, int want_text)
{
    if (!obj || depth > MAIL_PARSE_MAX_DEPTH || ++w->parts > S_MAX_PARTS)
        return;
    if (GMIME_IS_MULTIPART(obj))
        s_walk_multipart(w, GMIME_MULTIPART(obj), depth, want_text);
    else if (GMIME_IS_MESSAGE_PART(obj))
        s_walk_message(w, GMIME_MESSAGE_PART(obj), depth, want_text);
    else if (GMIME_IS_PART(obj))
        s_walk_leaf(w, obj, want_text);
}

/* ------------------------------------------------------------------------------------------
 * Header fields
 */

static const char *s_raw_header(GMimeObject *obj, const char *name)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(obj);
    GMimeHeader *h = list ? g_mime_header_list_get_header(list, name) : NULL;
    return h ? g_mime_header_get_raw_value(h) : NULL;
}

/* Unfolded, decoded, cleaned header text, or NULL if absent/empty. */
static char *s_header_text(GMimeObject *obj, const char *name)
{
    const char *raw = s_raw_header(obj, name);
    if (!raw)
        return NULL;
    char *unfolded = g_mime_utils_header_unfold(raw);
    char *decoded = g_mime_utils_header_decode_text(s_options, unfolded);
    char *clean = s_clean_header(decoded, 0);
    g_free(decoded);
    g_free(unfolded);
    return clean;
}

static char *s_message_id(const char *raw)
{
    if (!raw)
        return NULL;
    char *id = g_mime_utils_decode_message_id(raw);
    char *clean = s_clean_header(id, 0);
    g_free(id);
    return clean;
}

/* The first mailbox of an address list (looking into groups). */
static InternetAddressMailbox *s_first_mailbox(InternetAddressList *list, int depth)
{
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n && depth < 4; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_MAILBOX(ia))
            return INTERNET_ADDRESS_MAILBOX(ia);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            InternetAddressList *m = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
            InternetAddressMailbox *mb = s_first_mailbox(m, depth + 1);
            if (mb)
                return mb;
        }
    }
    return NULL;
}

/* Lower-cased addr-spec of the first mailbox, NULL unless it looks like local@domain. */
static char *s_first_addr(InternetAddressList *list, char **name_out)
{
    InternetAddressMailbox *mb = s_first_mailbox(list, 0);
    if (name_out)
        *name_out = mb ? s_clean_header(internet_address_get_name(INTERNET_ADDRESS(mb)), 0) : NULL;
    const char *addr = mb ? internet_address_mailbox_get_addr(mb) : NULL;
    char *clean = s_clean_header(addr, 0);
    if (!clean)
        return NULL;
    const char *at = strrchr(clean, '@');
    if (!at || at == clean || !at[1] || strchr(clean, ' ')) {
        g_free(clean);
        return NULL;
    }
    char *low = g_utf8_strdown(clean, -1);
    g_free(clean);
    return low;
}

static int64_t s_date_ms(GMimeObject *obj)
{
    const char *raw = s_raw_header(obj, "Date");
    if (!raw)
        return 0;
    char *unfolded = g_mime_utils_header_unfold(raw);
    GDateTime *dt = g_mime_utils_header_decode_date(unfolded);
    g_free(unfolded);
    if (!dt)
        return 0;
    int64_t ms = (int64_t)g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
    g_date_time_unref(dt);
    return ms;
}

static void s_take_ids(mail_parsed_t *m, GMimeObject *obj)
{
    m->message_id = s_message_id(s_raw_header(obj, "Message-ID"));

    const char *irt = s_raw_header(obj, "In-Reply-To");
    GMimeReferences *r = irt ? g_mime_references_parse(s_options, irt) : NULL;
    if (r && g_mime_references_length(r) > 0)
        m->in_reply_to = s_clean_header(g_mime_references_get_message_id(r, 0), 0);
    else if (irt)
        m->in_reply_to = s_message_id(irt);
    if (r)
        g_mime_references_free(r);

    const char *refs = s_raw_header(obj, "References");
    r = refs ? g_mime_references_parse(s_options, refs) : NULL;
    int n = r ? MIN(g_mime_references_length(r), S_MAX_REFERENCES) : 0;
    m->references = g_new0(char *, (gsize)n + 1);
    for (int i = 0, k = 0; i < n; i++) {
        char *id = s_clean_header(g_mime_references_get_message_id(r, i), 0);
        if (id)
            m->references[k++] = id;
    }
    if (r)
        g_mime_references_free(r);
}

static void s_take_addresses(mail_parsed_t *m, GMimeMessage *msg)
{
    m->from_addr = s_first_addr(g_mime_message_get_from(msg), &m->from_name);
    m->reply_to_addr = s_first_addr(g_mime_message_get_reply_to(msg), NULL);
    m->to_addr = s_first_addr(g_mime_message_get_to(msg), NULL);
}

/* ------------------------------------------------------------------------------------------
 * Kind: person, auto-reply, bulk or bounce
 */

static int s_from_is_mailer_daemon(GMimeMessage *msg)
{
    InternetAddressMailbox *mb = s_first_mailbox(g_mime_message_get_from(msg), 0);
    const char *addr = mb ? internet_address_mailbox_get_addr(mb) : NULL;
    if (!addr)
        return 0;
    return g_ascii_strncasecmp(addr, "mailer-daemon", 13) == 0 ||
           g_ascii_strncasecmp(addr, "postmaster", 10) == 0;
}

/* First token of a header value, lower case ("Auto-Replied; x=y" -> "auto-replied"). */
static char *s_header_token(GMimeObject *obj, const char *name)
{
    char *v = s_header_text(obj, name);
    if (!v)
        return NULL;
    size_t n = strcspn(v, "; \t(");
    v[n] = '\0';
    char *low = g_ascii_strdown(v, -1);
    g_free(v);
    if (!*low) {
        g_free(low);
        return NULL;
    }
    return low;
}

static int s_set_kind(mail_parsed_t *m, mail_kind_t kind, char *reason)
{
    m->kind = kind;
    m->kind_reason = reason;
    return 1;
}

static int s_kind_bounce(mail_parsed_t *m, GMimeMessage *msg, const s_walk_t *w)
{
    GMimeObject *body = g_mime_message_get_mime_part(msg);
    const char *rt = body && s_type_is(body, "multipart", "report")
                         ? g_mime_object_get_content_type_parameter(body, "report-type")
                         : NULL;
    if (rt && g_ascii_strcasecmp(rt, "delivery-status") == 0)
        return s_set_kind(m, MAIL_KIND_BOUNCE, g_strdup("delivery-status report"));
    if (w->saw_dsn && s_from_is_mailer_daemon(msg))
        return s_set_kind(m, MAIL_KIND_BOUNCE, g_strdup("mailer-daemon delivery-status"));
    if (rt) /* read receipts and other machine reports */
        return s_set_kind(m, MAIL_KIND_AUTO_REPLY, g_strdup_printf("multipart/report: %s", rt));
    return 0;
}

static int s_kind_auto(mail_parsed_t *m, GMimeObject *obj)
{
    static const char *const flags[] = {"X-Autoreply", "X-Autorespond", NULL};
    char *as = s_header_token(obj, "Auto-Submitted");
    if (as && strcmp(as, "no") != 0) {
        char *reason = g_strdup_printf("Auto-Submitted: %s", as);
        g_free(as);
        return s_set_kind(m, MAIL_KIND_AUTO_REPLY, reason);
    }
    g_free(as);
    for (const char *const *f = flags; *f; f++) {
        char *v = s_header_token(obj, *f);
        int yes = v && strcmp(v, "no") != 0 && strcmp(v, "false") != 0 && strcmp(v, "0") != 0;
        g_free(v);
        if (yes)
            return s_set_kind(m, MAIL_KIND_AUTO_REPLY, g_strdup(*f));
    }
    return 0;
}

static int s_kind_bulk(mail_parsed_t *m, GMimeObject *obj)
{
    char *prec = s_header_token(obj, "Precedence");
    if (prec && (!strcmp(prec, "bulk") || !strcmp(prec, "junk") || !strcmp(prec, "list"))) {
        char *reason = g_strdup_printf("Precedence: %s", prec);
        g_free(prec);
        return s_set_kind(m, MAIL_KIND_BULK, reason);
    }
    if (prec && !strcmp(prec, "auto_reply")) {
        g_free(prec);
        return s_set_kind(m, MAIL_KIND_AUTO_REPLY, g_strdup("Precedence: auto_reply"));
    }
    g_free(prec);
    if (s_raw_header(obj, "List-Id"))
        return s_set_kind(m, MAIL_KIND_BULK, g_strdup("List-Id"));
    return 0;
}

/* Bounce beats auto-reply beats bulk: a bounce from a list server is still a bounce.
   X-Auto-Response-Suppress is deliberately ignored: it asks *us* not to auto-reply and is
   set by Outlook on ordinary mail. */
static void s_detect_kind(mail_parsed_t *m, GMimeMessage *msg, s_walk_t *w)
{
    GMimeObject *obj = GMIME_OBJECT(msg);
    m->kind = MAIL_KIND_NORMAL;
    if (!s_kind_bounce(m, msg, w) && !s_kind_auto(m, obj))
        s_kind_bulk(m, obj);
    if (m->kind != MAIL_KIND_BOUNCE)
        return;
    m->bounce_recipient = w->dsn_recipient;
    m->bounce_status = w->dsn_status;
    m->bounce_original_message_id = w->returned_msgid;
    w->dsn_recipient = w->dsn_status = w->returned_msgid = NULL;
}

/* ------------------------------------------------------------------------------------------
 * Putting it together
 */

static int s_has_han(const char *s)
{
    for (const char *p = s; p && *p; p = g_utf8_next_char(p))
        if (g_unichar_get_script(g_utf8_get_char(p)) == G_UNICODE_SCRIPT_HAN)
            return 1;
    return 0;
}

/* main text, then forwarded text; trimmed, capped on a character boundary */
static void s_finish_text(mail_parsed_t *m, s_walk_t *w)
{
    GString *all = g_string_new(w->text->str);
    g_string_append(all, w->forwarded->str);
    char *clean = s_clean_len(all->str, all->len, 0);
    g_string_free(all, TRUE);
    g_strstrip(clean);
    size_t len = strlen(clean);
    if (len > MAIL_PARSE_MAX_TEXT) {
        char *cut = clean + MAIL_PARSE_MAX_TEXT;
        if ((*cut & 0xC0) == 0x80)
            cut = g_utf8_find_prev_char(clean, cut);
        *cut = '\0';
        m->text_truncated = 1;
    }
    m->text = clean;
}

static void s_walk_free(s_walk_t *w)
{
    g_string_free(w->text, TRUE);
    g_string_free(w->forwarded, TRUE);
    if (w->attachments)
        g_array_free(w->attachments, TRUE);
    g_free(w->dsn_recipient);
    g_free(w->dsn_status);
    g_free(w->returned_msgid);
}

static void s_fill(mail_parsed_t *m, GMimeMessage *msg)
{
    GMimeObject *obj = GMIME_OBJECT(msg);
    s_walk_t w;
    memset(&w, 0, sizeof(w));
    w.text = g_string_new(NULL);
    w.forwarded = g_string_new(NULL);
    w.attachments = g_array_new(FALSE, TRUE, sizeof(mail_attachment_t));

    s_take_ids(m, obj);
    m->subject = s_clean_header(g_mime_message_get_subject(msg), 1);
    s_take_addresses(m, msg);
    m->date_ms = s_date_ms(obj);

    s_walk(&w, g_mime_message_get_mime_part(msg), 0, 1);
    s_finish_text(m, &w);
    m->language = g_strdup(s_has_han(m->subject) || s_has_han(m->text) ? "zh-CN" : "en");
    s_detect_kind(m, msg, &w);

    m->attachment_count = w.attachments->len;
    m->attachment_truncated = w.attachment_truncated;
    m->attachments = (mail_attachment_t *)(void *)g_array_free(w.attachments, FALSE);
    w.attachments = NULL;
    s_walk_free(&w);
}

int mail_parse(const char *raw, size_t len, mail_parsed_t *out, char *err, size_t errlen)
{
    int rc = -1;
    mail_parse_init();
    if (!out) {
        cs_errf(err, errlen, "no output structure");
        return -1;
    }
    memset(out, 0, sizeof(*out));
    if (!raw || len == 0) {
        cs_errf(err, errlen, "empty message");
        return -1;
    }
    if (len > MAIL_PARSE_MAX_INPUT) {
        cs_errf(err, errlen, "message too large: %zu bytes (limit %u)", len, MAIL_PARSE_MAX_INPUT);
        return -1;
    }

    GMimeParserOptions *opts = s_message_options(raw, len);
    GByteArray *norm = s_normalize_raw(raw, len);
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(norm); /* takes norm */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
    if (!msg) {
        cs_errf(err, errlen, "no header section: not an RFC 5322 message");
        goto out_free_parser;
    }
    GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    if (!headers || g_mime_header_list_get_count(headers) == 0) {
        cs_errf(err, errlen, "no header section: input does not start with header fields");
        goto out_free_msg;
    }
    s_fill(out, msg);
    rc = 0;

out_free_msg:
    g_object_unref(msg);
out_free_parser:
    g_object_unref(parser);
    g_object_unref(stream);
    g_mime_parser_options_free(opts);
    return rc;
}

void mail_parsed_free(mail_parsed_t *m)
{
    if (!m)
        return;
    g_free(m->message_id);
    g_free(m->in_reply_to);
    g_strfreev(m->references);
    g_free(m->subject);
    g_free(m->from_addr);
    g_free(m->from_name);
    g_free(m->reply_to_addr);
    g_free(m->to_addr);
    g_free(m->text);
    g_free(m->language);
    g_free(m->kind_reason);
    g_free(m->bounce_original_message_id);
    g_free(m->bounce_recipient);
    g_free(m->bounce_status);
    for (size_t i = 0; i < m->attachment_count; i++) {
        g_free(m->attachments[i].filename);
        g_free(m->attachments[i].content_type);
    }
    g_free(m->attachments);
    memset(m, 0, sizeof(*m));
}
