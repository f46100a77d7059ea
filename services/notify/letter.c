/*
 * letter.c — templates for outbound letters and their RFC 5322 composition.
 *
 * Templates are parsed once, at load, into a list of segments (literal text or a
 * variable reference), so that every check — undeclared variables, unused declarations,
 * malformed placeholders, missing languages — happens before the service accepts work,
 * and rendering is a plain walk over the segments that cannot re-interpret a value.
 *
 * Composition writes headers through a small "header writer" that knows the current
 * column, so folding, encoded-word sizing and quoting are decided atom by atom.  We
 * write MIME ourselves rather than through GMime because the output must be byte-exact
 * and small (a letter is a few kilobytes); the tests read it back with GMime.
 */
#include "cs_log.h"
#include "letter.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Languages every kind must have; the first is the fallback for unknown languages. */
static const char *const s_required_langs[] = {"en", "zh-CN"};
#define S_FALLBACK_LANG "en"

/* Longest header line we write, excluding CRLF (RFC 5322 asks for at most 78). */
#define S_LINE_MAX 76
/* Longest encoded-word RFC 2047 allows. */
#define S_EW_MAX 75
/* "=?UTF-8?B?" + "?=" */
#define S_EW_OVERHEAD 12
/* Upper bound on a composed message, so a hostile body cannot grow us without end. */
#define S_MESSAGE_MAX (16 * 1024 * 1024)

/* ---- small shared helpers ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is invalid:
 * overlong forms, surrogates and code points above U+10FFFF are all refused. */
static size_t s_utf8_char_len(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    return len;
}

static bool s_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = s_utf8_char_len(p + i, n - i);
        if (k == 0 || (k == 1 && p[i] == 0))
            return false;
        i += k;
    }
    return true;
}

static bool s_is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static bool s_is_var_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool s_var_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > LETTER_VAR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!s_is_var_char(name[i]))
            return false;
    return true;
}

/* A growable byte buffer that refuses to grow past its limit; once it has failed,
 * every further add is ignored and the owner checks `failed` once at the end. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t limit;
    bool failed;
} s_buf_t;

static void s_buf_add(s_buf_t *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (n > b->limit - b->len) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void s_buf_str(s_buf_t *b, const char *s)
{
    s_buf_add(b, s, strlen(s));
}

/* Hand over the buffer as a NUL-terminated string (never NULL for an empty success). */
static char *s_buf_take(s_buf_t *b, size_t *len_out)
{
    if (b->failed) {
        free(b->data);
        return NULL;
    }
    if (!b->data)
        s_buf_add(b, "", 0);
    if (b->failed)
        return NULL;
    if (len_out)
        *len_out = b->len;
    return b->data;
}

/* ---- variables ---------------------------------------------------------------- */

struct _letter_vars_t {
    size_t count;
    char *names[LETTER_VARS_MAX];
    char *values[LETTER_VARS_MAX];
};

letter_vars_t *letter_vars_new(void)
{
    return calloc(1, sizeof(letter_vars_t));
}

void letter_vars_destroy(letter_vars_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    letter_vars_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free(self->names[i]);
        free(self->values[i]);
    }
    free(self);
    *self_p = NULL;
}

static ssize_t s_vars_find(const letter_vars_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->names[i], name) == 0)
            return (ssize_t)i;
    return -1;
}

int letter_vars_set(letter_vars_t *self, const char *name, const char *value)
{
    if (!self || !name || !value || !s_var_name_valid(name, strlen(name)))
        return -1;
    if (strnlen(value, LETTER_VALUE_MAX + 1) > LETTER_VALUE_MAX)
        return -1;
    char *copy = strdup(value);
    if (!copy)
        return -1;
    ssize_t at = s_vars_find(self, name);
    if (at >= 0) {
        free(self->values[at]);
        self->values[at] = copy;
        return 0;
    }
    if (self->count == LETTER_VARS_MAX || !(self->names[self->count] = strdup(name))) {
        free(copy);
        return -1;
    }
    self->values[self->count++] = copy;
    return 0;
}

const char *letter_vars_get(const letter_vars_t *self, const char *name)
{
    if (!self || !name)
        return NULL;
    ssize_t at = s_vars_find(self, name);
    return at >= 0 ? self->values[at] : NULL;
}

/* ---- templates: data ------------------------------------------------------------ */

/* One piece of a parsed template: literal text, or the variable required[var]. */
typedef struct {
    const char *text;
    size_t len;
    int var; /* -1 for literal text */
} s_segment_t;

typedef struct {
    char *file; /* basename, for error messages */
    char *kind;
    char *lang;
    char *source; /* the file's text; segments point into it */
    char **required;
    size_t nrequired;
    bool *used; /* per required variable, during load only */
    s_segment_t *subject;
    size_t nsubject;
    s_segment_t *body;
    size_t nbody;
} s_template_t;

struct _letter_templates_t {
    s_template_t *items;
    size_t count;
};

static void s_template_free(s_template_t *t)
{
    free(t->file);
    free(t->kind);
    free(t->lang);
    free(t->source);
    for (size_t i = 0; i < t->nrequired; i++)
        free(t->required[i]);
    free(t->required);
    free(t->used);
    free(t->subject);
    free(t->body);
    memset(t, 0, sizeof(*t));
}

void letter_templates_destroy(letter_templates_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    letter_templates_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_template_free(&self->items[i]);
    free(self->items);
    free(self);
    *self_p = NULL;
}

int letter_templates_check(const letter_templates_t *self, letter_kind_vars_fn *vars_for, char *err,
                           size_t errlen)
{
    for (size_t i = 0; i < self->count; i++) {
        const s_template_t *t = &self->items[i];
        const char *const *known = vars_for(t->kind);
        if (!known) {
            cs_errf(err, errlen, "%s: no event produces a letter of kind '%s'", t->file, t->kind);
            return -1;
        }
        for (size_t v = 0; v < t->nrequired; v++) {
            size_t k = 0;
            while (known[k] && strcmp(known[k], t->required[v]) != 0)
                k++;
            if (!known[k]) {
                char list[512] = "";
                size_t used = 0;
                for (size_t j = 0; known[j] && used < sizeof(list); j++)
                    used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                             j ? ", " : "", known[j]);
                cs_errf(err, errlen, "%s: Requires '%s', which no %s event fills (it has: %s)",
                        t->file, t->required[v], t->kind, list);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- templates: parsing one file ------------------------------------------------ */

static int s_line_of(const s_template_t *t, const char *at)
{
    int line = 1;
    for (const char *p = t->source; p < at; p++)
        line += *p == '\n';
    return line;
}

static int s_required_index(const s_template_t *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->nrequired; i++)
        if (strlen(t->required[i]) == len && memcmp(t->required[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* Parse the "Requires: a, b, c" list.  Names are checked and must not repeat. */
static int s_parse_requires(s_template_t *t, const char *p, const char *end, char *err,
                            size_t errlen)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *name = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t len = (size_t)(p - name);
        if (len == 0)
            break;
        if (!s_var_name_valid(name, len)) {
            cs_errf(err, errlen, "%s:%d: bad variable name '%.*s' in Requires (use a-z, 0-9, _)",
                    t->file, s_line_of(t, name), (int)(len > 64 ? 64 : len), name);
            return -1;
        }
        if (s_required_index(t, name, len) >= 0) {
            cs_errf(err, errlen, "%s: variable '%.*s' is declared twice in Requires", t->file,
                    (int)len, name);
            return -1;
        }
        if (t->nrequired == LETTER_VARS_MAX) {
            cs_errf(err, errlen, "%s: more than %d variables in Requires", t->file,
                    LETTER_VARS_MAX);
            return -1;
        }
        char **grown = realloc(t->required, (t->nrequired + 1) * sizeof(*grown));
        if (!grown || !(grown[t->nrequired] = strndup(name, len))) {
            if (grown)
                t->required = grown;
            cs_errf(err, errlen, "%s: out of memory", t->file);
            return -1;
        }
        t->required = grown;
        t->nrequired++;
    }
    return 0;
}

static int s_segment_add(s_segment_t **list, size_t *n, const char *text, size_t len, int var)
{
    if (var < 0 && len == 0)
        return 0;
    s_segment_t *grown = realloc(*list, (*n + 1) * sizeof(*grown));
    if (!grown)
        return -1;
    grown[*n] = (s_segment_t){text, len, var};
    *list = grown;
    (*n)++;
    return 0;
}

/* Split [p, end) into literal and {{variable}} segments.  Every variable must be
 * declared; "{{" that does not open a well-formed placeholder is an error, since a
 * half-typed placeholder would otherwise reach a customer as literal braces. */
static int s_parse_segments(s_template_t *t, const char *p, const char *end, s_segment_t **list,
                            size_t *n, char *err, size_t errlen)
{
    const char *lit = p;
    while (p + 1 < end) {
        if (!(p[0] == '{' && p[1] == '{')) {
            p++;
            continue;
        }
        const char *open = p;
        const char *q = p + 2;
        while (q < end && *q == ' ')
            q++;
        const char *name = q;
        while (q < end && s_is_var_char(*q))
            q++;
        size_t len = (size_t)(q - name);
        while (q < end && *q == ' ')
            q++;
        if (len == 0 || len > LETTER_VAR_NAME_MAX || q + 1 >= end || q[0] != '}' || q[1] != '}') {
            cs_errf(err, errlen,
                    "%s:%d: malformed placeholder (expected {{name}} with a-z, 0-9, _)", t->file,
                    s_line_of(t, open));
            return -1;
        }
        int var = s_required_index(t, name, len);
        if (var < 0) {
            cs_errf(err, errlen, "%s:%d: variable '%.*s' is used but not declared in Requires",
                    t->file, s_line_of(t, open), (int)len, name);
            return -1;
        }
        t->used[var] = true;
        if (s_segment_add(list, n, lit, (size_t)(open - lit), -1) ||
            s_segment_add(list, n, NULL, 0, var)) {
            cs_errf(err, errlen, "%s: out of memory", t->file);
            return -1;
        }
        p = q + 2;
        lit = p;
    }
    if (s_segment_add(list, n, lit, (size_t)(end - lit), -1)) {
        cs_errf(err, errlen, "%s: out of memory", t->file);
        return -1;
    }
    return 0;
}

/* Read a template file whole, refusing anything that is not a small UTF-8 text file,
 * and turn CRLF into LF so that templates edited on any system read the same. */
static char *s_read_text(const char *path, const char *file, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        cs_errf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        cs_errf(err, errlen, "%s: not a regular file", file);
        goto out_close;
    }
    if (st.st_size > LETTER_TEMPLATE_FILE_MAX) {
        cs_errf(err, errlen, "%s: larger than %d bytes", file, LETTER_TEMPLATE_FILE_MAX);
        goto out_close;
    }
    text = malloc((size_t)st.st_size + 1);
    if (!text) {
        cs_errf(err, errlen, "%s: out of memory", file);
        goto out_close;
    }
    size_t len = 0;
    ssize_t got;
    while (len < (size_t)st.st_size &&
           (got = read(fd, text + len, (size_t)st.st_size - len)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            cs_errf(err, errlen, "%s: read failed: %s", file, strerror(errno));
            goto out_free_text;
        }
        len += (size_t)got;
    }
    if (!s_utf8_valid(text, len)) {
        cs_errf(err, errlen, "%s: not valid UTF-8 text", file);
        goto out_free_text;
    }
    size_t w = 0;
    for (size_t r = 0; r < len; r++)
        if (!(text[r] == '\r' && r + 1 < len && text[r + 1] == '\n'))
            text[w++] = text[r];
    text[w] = '\0';
    goto out_close;
out_free_text:
    free(text);
    text = NULL;
out_close:
    close(fd);
    return text;
}

/* Parse the header block (Subject:, Requires:, # comments) and the body of t->source. */
static int s_parse_template(s_template_t *t, char *err, size_t errlen)
{
    const char *p = t->source;
    const char *subject = NULL, *subject_end = NULL;
    bool have_requires = false;
    for (;;) {
        const char *eol = strchr(p, '\n');
        if (!eol) {
            cs_errf(err, errlen, "%s: no blank line between the headers and the body", t->file);
            return -1;
        }
        if (eol == p)
            break;
        if (*p == '#') {
            /* comment line */
        } else if (strncasecmp(p, "Subject:", 8) == 0 && !subject) {
            subject = p + 8;
            while (subject < eol && (*subject == ' ' || *subject == '\t'))
                subject++;
            subject_end = eol;
            while (subject_end > subject && isspace((unsigned char)subject_end[-1]))
                subject_end--;
        } else if (strncasecmp(p, "Requires:", 9) == 0 && !have_requires) {
            have_requires = true;
            if (s_parse_requires(t, p + 9, eol, err, errlen))
                return -1;
        } else {
            cs_errf(err, errlen, "%s:%d: unexpected or repeated header line '%.*s'", t->file,
                    s_line_of(t, p), (int)(eol - p > 40 ? 40 : eol - p), p);
            return -1;
        }
        p = eol + 1;
    }
    const char *body = p + 1;
    if (!subject || subject == subject_end) {
        cs_errf(err, errlen, "%s: missing or empty Subject: line", t->file);
        return -1;
    }
    if (!have_requires) {
        cs_errf(err, errlen, "%s: missing Requires: line (list the variables, may be empty)",
                t->file);
        return -1;
    }
    if (s_is_blank(body)) {
        cs_errf(err, errlen, "%s: empty body", t->file);
        return -1;
    }
    t->used = calloc(t->nrequired + 1, sizeof(bool));
    if (!t->used) {
        cs_errf(err, errlen, "%s: out of memory", t->file);
        return -1;
    }
    if (s_parse_segments(t, subject, subject_end, &t->subject, &t->nsubject, err, errlen) ||
        s_parse_segments(t, body, body + strlen(body), &t->body, &t->nbody, err, errlen))
        return -1;
    for (size_t i = 0; i < t->nrequired; i++) {
        if (!t->used[i]) {
            cs_errf(err, errlen, "%s: variable '%s' is declared in Requires but never used",
                    t->file, t->required[i]);
            return -1;
        }
    }
    return 0;
}

/* "acceptance.zh-CN.tmpl" -> kind "acceptance", lang "zh-CN". */
static int s_split_file_name(s_template_t *t, char *err, size_t errlen)
{
    size_t n = strlen(t->file) - strlen(".tmpl");
    const char *dot = memrchr(t->file, '.', n);
    bool ok = dot && dot > t->file;
    for (const char *c = t->file; ok && c < dot; c++)
        ok = s_is_var_char(*c);
    size_t lang_len = ok ? n - (size_t)(dot + 1 - t->file) : 0;
    ok = ok && lang_len >= 2 && lang_len <= 16 && isalpha((unsigned char)dot[1]);
    for (size_t i = 0; ok && i < lang_len; i++)
        ok = isalnum((unsigned char)dot[1 + i]) || dot[1 + i] == '-';
    if (!ok) {
        cs_errf(err, errlen,
                "%s: name must be <kind>.<lang>.tmpl, kind in a-z0-9_ "
                "(e.g. acceptance.zh-CN.tmpl)",
                t->file);
        return -1;
    }
    t->kind = strndup(t->file, (size_t)(dot - t->file));
    t->lang = strndup(dot + 1, lang_len);
    if (!t->kind || !t->lang) {
        cs_errf(err, errlen, "%s: out of memory", t->file);
        return -1;
    }
    return 0;
}

static int s_load_one(s_template_t *t, const char *dir, const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        cs_errf(err, errlen, "%s: path too long", name);
        return -1;
    }
    t->file = strdup(name);
    if (!t->file) {
        cs_errf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    if (s_split_file_name(t, err, errlen))
        return -1;
    t->source = s_read_text(path, t->file, err, errlen);
    if (!t->source)
        return -1;
    return s_parse_template(t, err, errlen);
}

/* ---- templates: the set ---------------------------------------------------------- */

static int s_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.tmpl names in dir, sorted so that errors come out in a stable order. */
static char **s_list_templates(const char *dir, size_t *n, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        cs_errf(err, errlen, "%s: cannot open template directory: %s", dir, strerror(errno));
        return NULL;
    }
    char **names = calloc(LETTER_TEMPLATES_MAX, sizeof(char *));
    *n = 0;
    struct dirent *e;
    while (names && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".tmpl") != 0)
            continue;
        if (*n == LETTER_TEMPLATES_MAX) {
            cs_errf(err, errlen, "%s: more than %d templates", dir, LETTER_TEMPLATES_MAX);
            goto out_free_names;
        }
        if (!(names[*n] = strdup(e->d_name))) {
            cs_errf(err, errlen, "%s: out of memory", dir);
            goto out_free_names;
        }
        (*n)++;
    }
    if (!names)
        cs_errf(err, errlen, "%s: out of memory", dir);
    else if (*n == 0) {
        cs_errf(err, errlen, "%s: no *.tmpl templates found", dir);
        goto out_free_names;
    } else
        qsort(names, *n, sizeof(char *), s_cmp_names);
    closedir(d);
    return names;
out_free_names:
    for (size_t i = 0; i < *n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return NULL;
}

static const s_template_t *s_find(const letter_templates_t *self, const char *kind,
                                  const char *lang)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->items[i].kind, kind) == 0 && strcasecmp(self->items[i].lang, lang) == 0)
            return &self->items[i];
    return NULL;
}

static bool s_same_requirements(const s_template_t *a, const s_template_t *b, const char **missing)
{
    for (size_t i = 0; i < a->nrequired; i++) {
        if (s_required_index(b, a->required[i], strlen(a->required[i])) < 0) {
            *missing = a->required[i];
            return false;
        }
    }
    return true;
}

/* Checks across files: no duplicate (kind, lang), every required language present for
 * every kind, and the same variables required by every language of a kind. */
static int s_check_set(const letter_templates_t *self, char *err, size_t errlen)
{
    for (size_t i = 0; i < self->count; i++) {
        const s_template_t *t = &self->items[i];
        if (s_find(self, t->kind, t->lang) != t) {
            cs_errf(err, errlen, "%s: duplicates %s", t->file,
                    s_find(self, t->kind, t->lang)->file);
            return -1;
        }
        for (size_t l = 0; l < sizeof(s_required_langs) / sizeof(*s_required_langs); l++) {
            if (!s_find(self, t->kind, s_required_langs[l])) {
                cs_errf(err, errlen, "kind '%s' has no %s template (expected file %s.%s.tmpl)",
                        t->kind, s_required_langs[l], t->kind, s_required_langs[l]);
                return -1;
            }
        }
        const s_template_t *ref = s_find(self, t->kind, S_FALLBACK_LANG);
        const char *var;
        if (!s_same_requirements(t, ref, &var) || !s_same_requirements(ref, t, &var)) {
            const s_template_t *has = s_required_index(t, var, strlen(var)) >= 0 ? t : ref;
            cs_errf(err, errlen,
                    "%s requires variable '%s' but %s does not (all languages of a "
                    "kind must require the same variables)",
                    has->file, var, has == t ? ref->file : t->file);
            return -1;
        }
    }
    return 0;
}

letter_templates_t *letter_templates_load(const char *dir, char *err, size_t errlen)
{
    size_t n = 0;
    char **names = s_list_templates(dir, &n, err, errlen);
    if (!names)
        return NULL;
    letter_templates_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->items = calloc(n, sizeof(s_template_t)))) {
        cs_errf(err, errlen, "%s: out of memory", dir);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        self->count++;
        if (s_load_one(&self->items[i], dir, names[i], err, errlen))
            goto out_free;
        free(self->items[i].used);
        self->items[i].used = NULL;
    }
    if (s_check_set(self, err, errlen))
        goto out_free;
    goto out_names;
out_free:
    letter_templates_destroy(&self);
out_names:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return self;
}

/* ---- templates: rendering -------------------------------------------------------- */

static const s_template_t *s_resolve(const letter_templates_t *self, const char *kind,
                                     const char *lang)
{
    const s_template_t *t = lang ? s_find(self, kind, lang) : NULL;
    if (t)
        return t;
    /* Same primary subtag: "zh", "zh-Hans", "zh_CN" all reach zh-CN. */
    size_t primary = lang ? strcspn(lang, "-_") : 0;
    for (size_t i = 0; primary > 0 && i < self->count; i++) {
        const s_template_t *c = &self->items[i];
        if (strcmp(c->kind, kind) == 0 && strcspn(c->lang, "-") == primary &&
            strncasecmp(c->lang, lang, primary) == 0)
            return c;
    }
    return s_find(self, kind, S_FALLBACK_LANG);
}

const char *letter_templates_language(const letter_templates_t *self, const char *kind,
                                      const char *lang)
{
    if (!self || !kind)
        return NULL;
    const s_template_t *t = s_resolve(self, kind, lang);
    return t ? t->lang : NULL;
}

/* Append a value to a subject: one line, so control characters become spaces. */
static void s_add_subject_value(s_buf_t *b, const char *v)
{
    for (; *v; v++) {
        char c = (unsigned char)*v < 0x20 || *v == 0x7f ? ' ' : *v;
        s_buf_add(b, &c, 1);
    }
}

/* Collapse runs of white space and trim, in place: subjects are one tidy line. */
static void s_tidy_subject(char *s)
{
    size_t w = 0;
    bool space = true;
    for (size_t r = 0; s[r]; r++) {
        bool is_space = s[r] == ' ' || s[r] == '\t';
        if (is_space && space)
            continue;
        s[w++] = is_space ? ' ' : s[r];
        space = is_space;
    }
    if (w > 0 && s[w - 1] == ' ')
        w--;
    s[w] = '\0';
}

static char *s_render_segments(const s_segment_t *seg, size_t n, const char *const *values,
                               bool subject)
{
    s_buf_t b = {.limit = LETTER_RENDER_MAX};
    for (size_t i = 0; i < n; i++) {
        if (seg[i].var < 0)
            s_buf_add(&b, seg[i].text, seg[i].len);
        else if (subject)
            s_add_subject_value(&b, values[seg[i].var]);
        else
            s_buf_str(&b, values[seg[i].var]);
    }
    char *text = s_buf_take(&b, NULL);
    if (text && subject)
        s_tidy_subject(text);
    return text;
}

/* Look up every declared variable; a missing or blank one is named in the error. */
static int s_collect_values(const s_template_t *t, const letter_vars_t *vars, const char **values,
                            char *err, size_t errlen)
{
    char missing[512] = "";
    size_t nmissing = 0;
    for (size_t i = 0; i < t->nrequired; i++) {
        values[i] = letter_vars_get(vars, t->required[i]);
        if (!values[i] || s_is_blank(values[i])) {
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof(missing) - used, "%s%s", nmissing ? ", " : "",
                     t->required[i]);
            nmissing++;
        } else if (!s_utf8_valid(values[i], strlen(values[i]))) {
            cs_errf(err, errlen, "%s: variable '%s' is not valid UTF-8", t->file, t->required[i]);
            return -1;
        }
    }
    if (nmissing) {
        cs_errf(err, errlen, "%s: missing variable%s: %s", t->file, nmissing > 1 ? "s" : "",
                missing);
        return -1;
    }
    return 0;
}

int letter_render(const letter_templates_t *self, const char *kind, const char *lang,
                  const letter_vars_t *vars, char **subject_out, char **body_out, char *err,
                  size_t errlen)
{
    if (!self || !kind || !subject_out || !body_out) {
        cs_errf(err, errlen, "letter_render: missing argument");
        return -1;
    }
    *subject_out = *body_out = NULL;
    const s_template_t *t = s_resolve(self, kind, lang);
    if (!t) {
        cs_errf(err, errlen, "no template for letter kind '%.64s'", kind);
        return -1;
    }
    const char *values[LETTER_VARS_MAX];
    if (s_collect_values(t, vars, values, err, errlen))
        return -1;
    char *subject = s_render_segments(t->subject, t->nsubject, values, true);
    char *body = s_render_segments(t->body, t->nbody, values, false);
    if (!subject || !body) {
        free(subject);
        free(body);
        cs_errf(err, errlen, "%s: rendered letter larger than %d bytes", t->file,
                LETTER_RENDER_MAX);
        return -1;
    }
    *subject_out = subject;
    *body_out = body;
    return 0;
}

/* ---- composition: checks on fields ---------------------------------------------- */

static bool s_is_atext(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A plain DNS name: labels of letters, digits and '-', at most 253 characters. */
static bool s_domain_valid(const char *d, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-')
                return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else
            return false;
    }
    return label > 0 && d[len - 1] != '-';
}

/* An ASCII addr-spec whose local part is a dot-atom.  Quoted local parts and
 * internationalised addresses are refused: no customer address we store needs them,
 * and refusing them keeps every header we write free of injection. */
static bool s_addr_valid(const char *a)
{
    size_t len = strnlen(a, 255);
    const char *at = strrchr(a, '@');
    if (len > 254 || !at || at == a || at - a > 64)
        return false;
    for (const char *c = a; c < at; c++) {
        if (*c == '.') {
            if (c == a || c[1] == '.' || c + 1 == at)
                return false;
        } else if (!s_is_atext(*c))
            return false;
    }
    return s_domain_valid(at + 1, strlen(at + 1));
}

/* "<left@right>" with printable ASCII, no spaces or specials, as RFC 5322 msg-id. */
static bool s_msg_id_valid(const char *id, size_t len)
{
    if (len < 5 || len > 250 || id[0] != '<' || id[len - 1] != '>')
        return false;
    size_t ats = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        char c = id[i];
        if (c == '@')
            ats++;
        else if (c != '.' && !s_is_atext(c))
            return false;
    }
    const char *at = memchr(id, '@', len);
    return ats == 1 && at > id + 1 && at < id + len - 2;
}

static bool s_has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* ---- composition: base64 ----------------------------------------------------- */

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode n bytes into out (4 * ceil(n / 3) characters); returns the length. */
static size_t s_base64_raw(char *out, const unsigned char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = s_b64[(v >> 18) & 63];
        out[o++] = s_b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? s_b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? s_b64[v & 63] : '=';
    }
    return o;
}

/* A body part: canonical CRLF text, base64 in lines of 76 characters. */
static void s_base64_body(s_buf_t *b, const char *text)
{
    s_buf_t canon = {.limit = 2 * (size_t)LETTER_BODY_MAX};
    for (const char *p = text; *p; p++) {
        if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
            s_buf_add(&canon, "\r\n", 2);
        else if (*p != '\r')
            s_buf_add(&canon, p, 1);
    }
    if (canon.failed) {
        b->failed = true;
        free(canon.data);
        return;
    }
    for (size_t i = 0; i < canon.len; i += 57) {
        size_t n = canon.len - i < 57 ? canon.len - i : 57;
        char line[80];
        s_buf_add(b, line, s_base64_raw(line, (const unsigned char *)canon.data + i, n));
        s_buf_add(b, "\r\n", 2);
    }
    free(canon.data);
}

/* ---- composition: the header writer --------------------------------------------- */

/* Writes one header field atom by atom, folding before an atom that would push the
 * line past S_LINE_MAX.  Each atom is preceded by one space; after a fold that space is
 * the continuation line's leading white space, so unfolding gives back the same text. */
typedef struct {
    s_buf_t *b;
    size_t col;
} s_header_t;

static void s_header_start(s_header_t *h, s_buf_t *b, const char *name)
{
    h->b = b;
    s_buf_str(b, name);
    s_buf_add(b, ":", 1);
    h->col = strlen(name) + 1;
}

static void s_header_atom(s_header_t *h, const char *atom, size_t len)
{
    if (h->col + 1 + len > S_LINE_MAX) {
        s_buf_add(h->b, "\r\n", 2);
        h->col = 0;
    }
    s_buf_add(h->b, " ", 1);
    s_buf_add(h->b, atom, len);
    h->col += 1 + len;
}

static void s_header_end(s_header_t *h)
{
    s_buf_add(h->b, "\r\n", 2);
}

/* One encoded-word holding the n bytes at p, in B (base64) or Q encoding.  Q output
 * keeps only letters and digits literal, which RFC 2047 allows in every context. */
static void s_header_word(s_header_t *h, const unsigned char *p, size_t n, char encoding)
{
    char word[S_EW_MAX + 1];
    size_t wl = (size_t)snprintf(word, sizeof(word), "=?UTF-8?%c?", encoding);
    if (encoding == 'B')
        wl += s_base64_raw(word + wl, p, n);
    for (size_t i = 0; encoding == 'Q' && i < n; i++) {
        if (isalnum(p[i]))
            word[wl++] = (char)p[i];
        else if (p[i] == ' ')
            word[wl++] = '_';
        else
            wl += (size_t)snprintf(word + wl, sizeof(word) - wl, "=%02X", p[i]);
    }
    memcpy(word + wl, "?=", 2);
    s_header_atom(h, word, wl + 2);
}

static size_t s_char_len_at(const unsigned char *p, size_t left)
{
    size_t k = s_utf8_char_len(p, left);
    return k ? k : 1; /* callers pass valid UTF-8; never stall on a bad byte */
}

/* Emit text as RFC 2047 encoded-words, each at most 75 characters, sized to the room
 * left on the line, and never splitting a UTF-8 character between two words.
 *
 * GMime, MimeKit and others decode a run of adjacent B words with one continuous
 * base64 state (to repair senders that split characters), so a word with '=' padding
 * followed by another B word loses the rest of the run.  We therefore end every B word
 * but the last on a multiple of 3 bytes.  When no character boundary allows that (say
 * "Q" followed by Chinese: boundaries at 1, 4, 7, ...), the padded B word is followed
 * by one character in a Q word, which ends the B run for such decoders. */
static void s_header_encoded(s_header_t *h, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t at = 0;
    while (at < len) {
        size_t room = h->col + 1 < S_LINE_MAX ? S_LINE_MAX - h->col - 1 : 0;
        if (room < S_EW_OVERHEAD + 12) {
            s_buf_add(h->b, "\r\n", 2);
            h->col = 0;
            room = S_LINE_MAX - 1;
        }
        size_t max_bytes = ((room < S_EW_MAX ? room : S_EW_MAX) - S_EW_OVERHEAD) / 4 * 3;
        size_t take = 0, aligned = 0;
        while (at + take < len) {
            size_t k = s_char_len_at(p + at + take, len - at - take);
            if (take + k > max_bytes)
                break;
            take += k;
            if (take % 3 == 0)
                aligned = take;
        }
        bool last = at + take == len;
        if (!last && aligned > 0)
            take = aligned;
        s_header_word(h, p + at, take, 'B');
        at += take;
        if (!last && take % 3 != 0) {
            size_t k = s_char_len_at(p + at, len - at);
            s_header_word(h, p + at, k, 'Q');
            at += k;
        }
    }
}

typedef struct {
    const char *text;
    size_t len;
    bool encode;
} s_token_t;

/* Does this word have to travel inside an encoded-word?  Non-ASCII, anything that
 * looks like an encoded-word already, a word too long to fold, and — in a display
 * name (phrase) — any character that is not atext. */
static bool s_token_needs_encoding(const char *w, size_t len, bool phrase)
{
    if (len > S_LINE_MAX - 2)
        return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 0x80 || (c == '=' && i + 1 < len && w[i + 1] == '?'))
            return true;
        if (phrase && !s_is_atext((char)c))
            return true;
    }
    return false;
}

/* Write free text (a subject or a display name): ASCII words as they are, runs of
 * words that need encoding as encoded-words.  The spaces inside a run are encoded with
 * it, because white space between two adjacent encoded-words vanishes on decoding. */
static void s_header_text(s_header_t *h, const char *text, bool phrase)
{
    size_t len = strlen(text);
    bool odd_spacing = len == 0 || text[0] == ' ' || text[len - 1] == ' ' || strstr(text, "  ");
    if (odd_spacing) {
        s_header_encoded(h, text, len);
        return;
    }
    const char *p = text;
    while (*p) {
        size_t wl = strcspn(p, " ");
        if (!s_token_needs_encoding(p, wl, phrase)) {
            s_header_atom(h, p, wl);
            p += wl + (p[wl] == ' ');
            continue;
        }
        const char *run = p;
        const char *end = p + wl;
        p = end + (*end == ' ');
        while (*p) {
            size_t nl = strcspn(p, " ");
            if (!s_token_needs_encoding(p, nl, phrase))
                break;
            end = p + nl;
            p = end + (*end == ' ');
        }
        s_header_encoded(h, run, (size_t)(end - run));
    }
}

static bool s_ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* "Display Name <addr>": atext names as they are, other ASCII names as a quoted
 * string, non-ASCII names as encoded-words. */
static void s_header_address(s_buf_t *b, const char *field, const letter_address_t *a)
{
    s_header_t h;
    s_header_start(&h, b, field);
    const char *name = a->display_name;
    if (!name || !*name) {
        s_header_atom(&h, a->addr, strlen(a->addr));
        s_header_end(&h);
        return;
    }
    bool needs_quote = false;
    for (const char *c = name; *c; c++)
        needs_quote |= *c != ' ' && !s_is_atext(*c);
    /* Lenient decoders decode "=?...?=" even inside quotes: such names get encoded. */
    if (needs_quote && s_ascii_printable(name) && strlen(name) < 60 && !strstr(name, "  ") &&
        !strstr(name, "=?") && name[0] != ' ' && name[strlen(name) - 1] != ' ') {
        s_buf_t q = {.limit = 200};
        s_buf_add(&q, "\"", 1);
        for (const char *c = name; *c; c++) {
            if (*c == '"' || *c == '\\')
                s_buf_add(&q, "\\", 1);
            s_buf_add(&q, c, 1);
        }
        s_buf_add(&q, "\"", 1);
        if (!q.failed)
            s_header_atom(&h, q.data, q.len);
        b->failed |= q.failed;
        free(q.data);
    } else
        s_header_text(&h, name, true);
    char angle[260];
    int n = snprintf(angle, sizeof(angle), "<%s>", a->addr);
    s_header_atom(&h, angle, (size_t)n);
    s_header_end(&h);
}

/* "Date: Tue, 03 Dec 2026 08:15:00 +0000" — day and month names spelled out by hand,
 * since strftime's %a and %b follow the process locale. */
static void s_header_date(s_buf_t *b, time_t when)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&when, &tm)) {
        b->failed = true;
        return;
    }
    char line[64];
    snprintf(line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
    s_buf_str(b, line);
}

/* A list of msg-ids ("<a@b> <c@d>"), one atom each so the field folds between ids. */
static void s_header_ids(s_buf_t *b, const char *field, const char *ids)
{
    s_header_t h;
    s_header_start(&h, b, field);
    const char *p = ids;
    while (*p) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (n)
            s_header_atom(&h, p, n);
        p += n;
    }
    s_header_end(&h);
}

/* ---- composition: the message ---------------------------------------------------- */

static int s_check_id_list(const char *ids, bool single)
{
    size_t count = 0;
    const char *p = ids;
    for (;;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (n == 0)
            break;
        if (!s_msg_id_valid(p, n))
            return -1;
        count++;
        p += n;
    }
    return count == 0 || (single && count > 1) || count > 100 ? -1 : 0;
}

static int s_check_text(const char *what, const char *s, size_t max, bool one_line, char *err,
                        size_t errlen)
{
    size_t len = s ? strnlen(s, max + 1) : 0;
    if (!s || len == 0 || s_is_blank(s))
        cs_errf(err, errlen, "%s is missing", what);
    else if (len > max)
        cs_errf(err, errlen, "%s is longer than %zu bytes", what, max);
    else if (!s_utf8_valid(s, len))
        cs_errf(err, errlen, "%s is not valid UTF-8", what);
    else if (one_line && s_has_control(s))
        cs_errf(err, errlen, "%s contains a line break or control character", what);
    else
        return 0;
    return -1;
}

static int s_check_msg(const letter_msg_t *m, char *err, size_t errlen)
{
    const letter_address_t *addrs[2] = {&m->from, &m->to};
    const char *names[2] = {"from", "to"};
    for (int i = 0; i < 2; i++) {
        if (!addrs[i]->addr || !s_addr_valid(addrs[i]->addr)) {
            cs_errf(err, errlen, "%s address is missing or malformed", names[i]);
            return -1;
        }
        if (addrs[i]->display_name && *addrs[i]->display_name &&
            s_check_text(i ? "to display name" : "from display name", addrs[i]->display_name, 200,
                         true, err, errlen))
            return -1;
    }
    if (s_check_text("subject", m->subject, LETTER_SUBJECT_MAX, true, err, errlen) ||
        s_check_text("text body", m->text_body, LETTER_BODY_MAX, false, err, errlen) ||
        (m->html_body &&
         s_check_text("html body", m->html_body, LETTER_BODY_MAX, false, err, errlen)))
        return -1;
    if (!m->message_id || s_check_id_list(m->message_id, true)) {
        cs_errf(err, errlen, "message_id is missing or not of the form <left@domain>");
        return -1;
    }
    if (m->in_reply_to && s_check_id_list(m->in_reply_to, true)) {
        cs_errf(err, errlen, "in_reply_to is not of the form <left@domain>");
        return -1;
    }
    if (m->references && s_check_id_list(m->references, false)) {
        cs_errf(err, errlen, "references is not a list of <left@domain> ids");
        return -1;
    }
    if (m->ticket_no) {
        size_t n = strnlen(m->ticket_no, 65);
        bool ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)m->ticket_no[i]) || strchr("-_.", m->ticket_no[i]);
        if (!ok) {
            cs_errf(err, errlen, "ticket_no must be 1-64 of A-Z a-z 0-9 - _ .");
            return -1;
        }
    }
    return 0;
}

static int s_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[32];
    if (nbytes > sizeof(raw) || getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
        return -1;
    for (size_t i = 0; i < nbytes; i++)
        sprintf(out + 2 * i, "%02x", raw[i]);
    return 0;
}

static void s_write_headers(s_buf_t *b, const letter_msg_t *m)
{
    s_header_date(b, m->date ? m->date : time(NULL));
    s_header_address(b, "From", &m->from);
    s_header_address(b, "To", &m->to);
    s_header_t h;
    s_header_start(&h, b, "Subject");
    s_header_text(&h, m->subject, false);
    s_header_end(&h);
    s_header_ids(b, "Message-ID", m->message_id);
    if (m->in_reply_to)
        s_header_ids(b, "In-Reply-To", m->in_reply_to);
    if (m->references)
        s_header_ids(b, "References", m->references);
    if (m->ticket_no) {
        s_buf_str(b, "X-Petrocs-Ticket: ");
        s_buf_str(b, m->ticket_no);
        s_buf_str(b, "\r\n");
    }
    if (m->auto_submitted) {
        /* RFC 3834, and the header Exchange honours to suppress out-of-office replies. */
        s_buf_str(b, "Auto-Submitted: auto-generated\r\n");
        s_buf_str(b, "X-Auto-Response-Suppress: All\r\n");
    }
    s_buf_str(b, "MIME-Version: 1.0\r\n");
}

static const char s_text_part_headers[] = "Content-Type: text/plain; charset=UTF-8\r\n"
                                          "Content-Transfer-Encoding: base64\r\n";
static const char s_html_part_headers[] = "Content-Type: text/html; charset=UTF-8\r\n"
                                          "Content-Transfer-Encoding: base64\r\n";

/* text and HTML as two alternatives; the boundary is random and, since base64 never
 * produces "=_", can never occur inside the encoded parts. */
static int s_write_alternative(s_buf_t *b, const letter_msg_t *m)
{
    char boundary[64] = "=_petrocs_";
    if (s_random_hex(boundary + strlen(boundary), 16))
        return -1;
    s_buf_str(b, "Content-Type: multipart/alternative;\r\n boundary=\"");
    s_buf_str(b, boundary);
    s_buf_str(b, "\"\r\n\r\nThis is a multi-part message in MIME format.\r\n");
    const char *parts[2][2] = {{s_text_part_headers, m->text_body},
                               {s_html_part_headers, m->html_body}};
    for (int i = 0; i < 2; i++) {
        s_buf_str(b, "\r\n--");
        s_buf_str(b, boundary);
        s_buf_str(b, "\r\n");
        s_buf_str(b, parts[i][0]);
        s_buf_str(b, "\r\n");
        s_base64_body(b, parts[i][1]);
    }
    s_buf_str(b, "\r\n--");
    s_buf_str(b, boundary);
    s_buf_str(b, "--\r\n");
    return 0;
}

static void s_html_escaped(s_buf_t *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '&':
            s_buf_str(b, "&amp;");
            break;
        case '<':
            s_buf_str(b, "&lt;");
            break;
        case '>':
            s_buf_str(b, "&gt;");
            break;
        case '"':
            s_buf_str(b, "&quot;");
            break;
        case '\'':
            s_buf_str(b, "&#39;");
            break;
        case '\r':
            break;
        case '\n':
            s_buf_str(b, "<br>\n");
            break;
        default:
            s_buf_add(b, p + i, 1);
        }
    }
}

/* One paragraph's text with http(s) URLs turned into links.  A URL ends at white space
 * or at a character no letter of ours puts in one (CJK punctuation included). */
static void s_html_paragraph(s_buf_t *b, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *u = NULL;
        for (const char *q = p; q + 8 <= end && !u; q++)
            if (strncmp(q, "http://", 7) == 0 || strncmp(q, "https://", 8) == 0)
                u = q;
        if (!u) {
            s_html_escaped(b, p, (size_t)(end - p));
            return;
        }
        s_html_escaped(b, p, (size_t)(u - p));
        const char *ue = u;
        while (ue < end && (unsigned char)*ue > ' ' && (unsigned char)*ue < 0x80 &&
               !strchr("<>\"'", *ue))
            ue++;
        while (ue > u && strchr(".,;:)", ue[-1]))
            ue--;
        s_buf_str(b, "<a href=\"");
        s_html_escaped(b, u, (size_t)(ue - u));
        s_buf_str(b, "\">");
        s_html_escaped(b, u, (size_t)(ue - u));
        s_buf_str(b, "</a>");
        p = ue;
    }
}

char *letter_html_from_text(const char *text, const char *lang)
{
    s_buf_t b = {.limit = LETTER_BODY_MAX};
    char safe_lang[16] = "en";
    if (lang && strlen(lang) < sizeof(safe_lang) &&
        strspn(lang, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") == strlen(lang))
        snprintf(safe_lang, sizeof(safe_lang), "%s", lang);
    s_buf_str(&b, "<!DOCTYPE html>\n<html lang=\"");
    s_buf_str(&b, safe_lang);
    s_buf_str(&b, "\">\n<head><meta charset=\"utf-8\"></head>\n<body>\n");
    const char *p = text;
    while (*p) {
        while (*p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        const char *e = strstr(p, "\n\n");
        const char *e2 = strstr(p, "\r\n\r\n");
        if (e2 && (!e || e2 < e))
            e = e2;
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
            n--;
        s_buf_str(&b, "<p>");
        s_html_paragraph(&b, p, n);
        s_buf_str(&b, "</p>\n");
        p = e ? e : p + strlen(p);
    }
    s_buf_str(&b, "</body>\n</html>\n");
    return s_buf_take(&b, NULL);
}

char *letter_compose_rfc5322(const letter_msg_t *m, size_t *len_out, char *err, size_t errlen)
{
    if (!m) {
        cs_errf(err, errlen, "no message");
        return NULL;
    }
    if (s_check_msg(m, err, errlen))
        return NULL;
    s_buf_t b = {.limit = S_MESSAGE_MAX};
    s_write_headers(&b, m);
    if (m->html_body) {
        if (s_write_alternative(&b, m)) {
            free(b.data);
            cs_errf(err, errlen, "no randomness for the MIME boundary");
            return NULL;
        }
    } else {
        s_buf_str(&b, s_text_part_headers);
        s_buf_str(&b, "\r\n");
        s_base64_body(&b, m->text_body);
    }
    char *out = s_buf_take(&b, len_out);
    if (!out)
        cs_errf(err, errlen, "message larger than %d bytes or out of memory", S_MESSAGE_MAX);
    return out;
}

char *letter_message_id_new(const char *ticket_or_kind, const char *domain, char *err,
                            size_t errlen)
{
    if (!domain || !s_domain_valid(domain, strnlen(domain, 254))) {
        cs_errf(err, errlen, "message-id domain is missing or not a DNS name");
        return NULL;
    }
    char left[65] = "";
    size_t n = 0;
    for (const char *c = ticket_or_kind ? ticket_or_kind : ""; *c && n < 64; c++)
        if (isalnum((unsigned char)*c) || *c == '-' || *c == '_')
            left[n++] = *c;
    left[n] = '\0';
    char random[33];
    if (s_random_hex(random, 16)) {
        cs_errf(err, errlen, "no randomness for the message-id");
        return NULL;
    }
    char *id = NULL;
    if (asprintf(&id, "<%s.%s@%s>", n ? left : "letter", random, domain) < 0) {
        cs_errf(err, errlen, "out of memory");
        return NULL;
    }
    return id;
}
