/*
 * classify.c - dispatch's ticket classifier: load the company's rules file
 * and apply it to one ticket.
 *
 * Why it is built this way:
 *  - The rules file is edited by people, so the parser is strict and every
 *    mistake is reported with its line number; a bad file is refused as a
 *    whole rather than half-applied.
 *  - Tickets come from customers (mail bodies, web forms), so the text side
 *    is bounded (CLASSIFY_TEXT_MAX_BYTES), never fails on odd bytes, and
 *    treats an invalid hint (urgency "very high", type "pumps") as absent.
 *  - Matching is on a normalised copy (ASCII lower case, full-width folded,
 *    whitespace collapsed), so phrases and text are compared like for like.
 *    Rules are few (hundreds) and texts short, so a plain memmem per rule is
 *    fast enough and easy to explain to whoever edits the rules.
 */
#include "classify.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLASSIFY_PHRASE_MAX 255

/* The nine service types; the order is the index used in score arrays. */
static const char *const s_service_types[] = {
    "equipment_maintenance",    "process_optimisation", "safety_inspection",
    "environmental_compliance", "technical_consulting", "training",
    "data_monitoring",          "product_supply",       "complaint",
};
#define SERVICE_TYPE_COUNT (sizeof(s_service_types) / sizeof(s_service_types[0]))
#define SERVICE_TYPE_DEFAULT 4 /* technical_consulting */

/* Ordered from least to most: a larger index is more urgent / wider. */
static const char *const s_urgencies[] = {"low", "medium", "high", "critical"};
static const char *const s_impacts[] = {"single", "site", "multi_site", "public"};
#define TIERS 3
static const char *const s_tiers[TIERS] = {"strategic", "large", "sme"};
#define LEVELS 4

typedef enum {
    RULE_TYPE,      /* rule:      target = service type index, weight */
    RULE_EMERGENCY, /* emergency: target = level 1..3 */
    RULE_URGENCY,   /* urgency:   target = urgency index */
    RULE_IMPACT,    /* impact:    target = impact index */
    RULE_IGNORE,    /* ignore:    blanked out before the three above */
} rule_kind_t;

typedef struct {
    rule_kind_t kind;
    int target;
    int weight;
    int line;
    bool open_end; /* phrase ended with '*': any word ending accepted */
    size_t phrase_len;
    char id[CLASSIFY_RULE_ID_MAX + 1];
    char phrase[CLASSIFY_PHRASE_MAX + 1]; /* normalised, without the '*' */
} rule_t;

struct _classify_rules_t {
    int version;
    int default_urgency;
    int default_impact;
    int default_priority;       /* 1..4 */
    int matrix[LEVELS][LEVELS]; /* priority 1..4, 0 = not given */
    int matrix_line[LEVELS][LEVELS];
    int tier_raise[TIERS]; /* steps a customer tier raises the priority */
    int tier_line[TIERS];
    rule_t *rules;
    size_t rule_count;
    size_t rule_cap;
};

/* ------------------------------------------------------------------ text */

static bool s_is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * Normalise len bytes of in into out (which has room for len + 1 bytes; the
 * result is never longer than the input).  ASCII upper case becomes lower
 * case; full-width ASCII U+FF01..U+FF5E becomes its ASCII form, because
 * Chinese input methods produce "ＶＯＣ" as often as "VOC"; every run of
 * whitespace (including U+3000, the ideographic space) becomes one space.
 * Other bytes are copied as they are, valid UTF-8 or not.
 */
static size_t s_normalise(const char *in, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0;
    bool in_space = false;

    while (i < len) {
        unsigned char c = p[i];
        int ascii = -1;
        size_t used = 1;

        if (c == 0xEF && i + 2 < len && (p[i + 1] == 0xBC || p[i + 1] == 0xBD) &&
            (p[i + 2] & 0xC0) == 0x80) {
            unsigned cp = 0xF000u | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            if (cp >= 0xFF01 && cp <= 0xFF5E) {
                ascii = (int)(cp - 0xFEE0);
                used = 3;
            }
        } else if (c == 0xE3 && i + 2 < len && p[i + 1] == 0x80 && p[i + 2] == 0x80) {
            ascii = ' ';
            used = 3;
        } else if (c < 0x80) {
            ascii = c;
        }
        i += used;
        if (ascii == ' ' || ascii == '\t' || ascii == '\n' || ascii == '\r' || ascii == '\f' ||
            ascii == '\v') {
            if (!in_space)
                out[o++] = ' ';
            in_space = true;
            continue;
        }
        in_space = false;
        out[o++] = ascii >= 0 ? (char)tolower(ascii) : (char)c;
    }
    out[o] = '\0';
    return o;
}

/* Find the rule's phrase in hay at a position that respects word
 * boundaries (see the MATCHING section of classify.rules).  Returns the
 * offset of the first acceptable occurrence at or after from, or -1. */
static long s_find_from(const char *hay, size_t hay_len, size_t from, const rule_t *rule)
{
    const unsigned char *first = (const unsigned char *)rule->phrase;
    bool check_start = s_is_word_byte(first[0]);
    bool check_end = !rule->open_end && s_is_word_byte(first[rule->phrase_len - 1]);

    while (from + rule->phrase_len <= hay_len) {
        const char *at = memmem(hay + from, hay_len - from, rule->phrase, rule->phrase_len);
        if (!at)
            return -1;
        size_t pos = (size_t)(at - hay);
        size_t end = pos + rule->phrase_len;
        bool start_ok = !check_start || pos == 0 || !s_is_word_byte((unsigned char)hay[pos - 1]);
        bool end_ok = !check_end || end == hay_len || !s_is_word_byte((unsigned char)hay[end]);
        if (start_ok && end_ok)
            return (long)pos;
        from = pos + 1;
    }
    return -1;
}

static bool s_matches(const char *hay, size_t hay_len, const rule_t *rule)
{
    return s_find_from(hay, hay_len, 0, rule) >= 0;
}

/* Blank out every occurrence of an ignore phrase with spaces, so that the
 * emergency / urgency / impact phrases inside it are no longer seen. */
static void s_mask(char *hay, size_t hay_len, const rule_t *rule)
{
    long pos = 0;
    while ((pos = s_find_from(hay, hay_len, (size_t)pos, rule)) >= 0) {
        memset(hay + pos, ' ', rule->phrase_len);
        pos += (long)rule->phrase_len;
    }
}

static int s_index_of(const char *const *names, size_t count, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

int classify_is_service_type(const char *code)
{
    if (!code)
        return 0;
    for (size_t i = 0; i < SERVICE_TYPE_COUNT; i++)
        if (strcmp(s_service_types[i], code) == 0)
            return 1;
    return 0;
}

/* --------------------------------------------------------------- parsing */

typedef struct {
    int line;
    char *err;
    size_t errlen;
} parse_ctx_t;

static int s_fail(parse_ctx_t *ctx, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->err && ctx->errlen)
        snprintf(ctx->err, ctx->errlen, "line %d: %s", ctx->line, msg);
    return -1;
}

/* Split off the next whitespace-separated field of *cursor into field
 * (NUL-terminated, truncated to fieldlen - 1 with *too_long set). */
static bool s_next_field(const char **cursor, char *field, size_t fieldlen, bool *too_long)
{
    const char *p = *cursor;
    size_t n = 0;

    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return false;
    *too_long = false;
    while (*p && *p != ' ' && *p != '\t') {
        if (n + 1 < fieldlen)
            field[n++] = *p;
        else
            *too_long = true;
        p++;
    }
    field[n] = '\0';
    *cursor = p;
    return true;
}

static int s_parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int s_parse_priority(const char *s)
{
    if ((s[0] == 'P' || s[0] == 'p') && s[1] >= '1' && s[1] <= '4' && s[2] == '\0')
        return s[1] - '0';
    return -1;
}

/* Strictly check UTF-8: a rules file with broken characters would silently
 * never match, which is worse than refusing it. */
static bool s_valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static bool s_valid_id(const char *id)
{
    if (!*id)
        return false;
    for (const char *p = id; *p; p++)
        if (!s_is_word_byte((unsigned char)*p) && *p != '.' && *p != '-')
            return false;
    return true;
}

static const rule_t *s_find_rule_id(const classify_rules_t *r, const char *id)
{
    for (size_t i = 0; i < r->rule_count; i++)
        if (strcmp(r->rules[i].id, id) == 0)
            return &r->rules[i];
    return NULL;
}

/* Turn the rest of a line into the rule's normalised phrase. */
static int s_set_phrase(parse_ctx_t *ctx, rule_t *rule, const char *rest)
{
    char buf[CLASSIFY_RULES_MAX_LINE + 1];
    size_t len;

    while (*rest == ' ' || *rest == '\t')
        rest++;
    len = strlen(rest);
    while (len && (rest[len - 1] == ' ' || rest[len - 1] == '\t'))
        len--;
    if (len == 0)
        return s_fail(ctx, "rule '%s' has no phrase", rule->id);
    if (!s_valid_utf8((const unsigned char *)rest, len))
        return s_fail(ctx, "phrase of rule '%s' is not valid UTF-8", rule->id);
    len = s_normalise(rest, len, buf);
    if (buf[len - 1] == '*') {
        rule->open_end = true;
        buf[--len] = '\0';
    }
    if (len == 0)
        return s_fail(ctx, "rule '%s' has no phrase", rule->id);
    if (strchr(buf, '*'))
        return s_fail(ctx, "'*' is only allowed at the end of a phrase");
    if (len > CLASSIFY_PHRASE_MAX)
        return s_fail(ctx, "phrase of rule '%s' is longer than %d bytes", rule->id,
                      CLASSIFY_PHRASE_MAX);
    memcpy(rule->phrase, buf, len + 1);
    rule->phrase_len = len;
    return 0;
}

static rule_t *s_add_rule(classify_rules_t *r)
{
    if (r->rule_count == r->rule_cap) {
        size_t cap = r->rule_cap ? r->rule_cap * 2 : 64;
        rule_t *grown = realloc(r->rules, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        r->rules = grown;
        r->rule_cap = cap;
    }
    rule_t *rule = &r->rules[r->rule_count];
    memset(rule, 0, sizeof(*rule));
    return rule;
}

/*
 * One line of the rule kinds that carry a phrase:
 *   rule <id> <type> <weight> <phrase> | emergency <id> <level> <phrase>
 *   urgency <id> <urgency> <phrase> | impact <id> <impact> <phrase>
 *   ignore <id> <phrase>
 */
static int s_parse_rule_line(parse_ctx_t *ctx, classify_rules_t *r, rule_kind_t kind,
                             const char *rest)
{
    char id[CLASSIFY_RULE_ID_MAX + 2], target[64], weight[16];
    bool too_long = false;
    const rule_t *dup;
    rule_t *rule;

    if (r->rule_count >= CLASSIFY_RULES_MAX_RULES)
        return s_fail(ctx, "more than %d rules", CLASSIFY_RULES_MAX_RULES);
    if (!s_next_field(&rest, id, sizeof(id), &too_long))
        return s_fail(ctx, "missing rule id");
    if (too_long || strlen(id) > CLASSIFY_RULE_ID_MAX)
        return s_fail(ctx, "rule id longer than %d characters", CLASSIFY_RULE_ID_MAX);
    if (!s_valid_id(id))
        return s_fail(ctx, "rule id '%s' may only use A-Z a-z 0-9 _ . -", id);
    if (strcmp(id, "requested") == 0 || strcmp(id, "default") == 0)
        return s_fail(ctx, "rule id '%s' is reserved", id);
    if ((dup = s_find_rule_id(r, id)))
        return s_fail(ctx, "duplicate rule id '%s' (first on line %d)", id, dup->line);

    rule = s_add_rule(r);
    if (!rule)
        return s_fail(ctx, "out of memory");
    memcpy(rule->id, id, strlen(id) + 1);
    rule->kind = kind;
    rule->line = ctx->line;
    rule->weight = 1;

    if (kind != RULE_IGNORE && !s_next_field(&rest, target, sizeof(target), &too_long))
        return s_fail(ctx, "rule '%s' is incomplete", id);
    switch (kind) {
    case RULE_TYPE:
        rule->target = s_index_of(s_service_types, SERVICE_TYPE_COUNT, target);
        if (rule->target < 0 || !classify_is_service_type(target))
            return s_fail(ctx, "unknown service type '%s'", target);
        if (!s_next_field(&rest, weight, sizeof(weight), &too_long))
            return s_fail(ctx, "rule '%s' has no weight", id);
        if (s_parse_int(weight, 1, 100, &rule->weight) < 0)
            return s_fail(ctx, "weight '%s' must be an integer 1..100", weight);
        break;
    case RULE_EMERGENCY:
        if (s_parse_int(target, 1, 3, &rule->target) < 0)
            return s_fail(ctx, "emergency level '%s' must be 1, 2 or 3", target);
        break;
    case RULE_URGENCY:
        if ((rule->target = s_index_of(s_urgencies, LEVELS, target)) < 0)
            return s_fail(ctx, "unknown urgency '%s'", target);
        break;
    case RULE_IMPACT:
        if ((rule->target = s_index_of(s_impacts, LEVELS, target)) < 0)
            return s_fail(ctx, "unknown impact '%s'", target);
        break;
    case RULE_IGNORE:
        break;
    }
    if (s_set_phrase(ctx, rule, rest) < 0)
        return -1;
    r->rule_count++;
    return 0;
}

/* matrix <urgency> <impact> <P1..P4> */
static int s_parse_matrix_line(parse_ctx_t *ctx, classify_rules_t *r, const char *rest)
{
    char urgency[32], impact[32], priority[16], extra[8];
    bool too_long = false;
    int u, i, p;

    if (!s_next_field(&rest, urgency, sizeof(urgency), &too_long) ||
        !s_next_field(&rest, impact, sizeof(impact), &too_long) ||
        !s_next_field(&rest, priority, sizeof(priority), &too_long))
        return s_fail(ctx, "matrix needs <urgency> <impact> <priority>");
    if (s_next_field(&rest, extra, sizeof(extra), &too_long))
        return s_fail(ctx, "matrix line has extra text");
    if ((u = s_index_of(s_urgencies, LEVELS, urgency)) < 0)
        return s_fail(ctx, "unknown urgency '%s'", urgency);
    if ((i = s_index_of(s_impacts, LEVELS, impact)) < 0)
        return s_fail(ctx, "unknown impact '%s'", impact);
    if ((p = s_parse_priority(priority)) < 0)
        return s_fail(ctx, "priority '%s' must be P1..P4", priority);
    if (r->matrix[u][i])
        return s_fail(ctx, "matrix cell %s/%s given twice (first on line %d)", s_urgencies[u],
                      s_impacts[i], r->matrix_line[u][i]);
    r->matrix[u][i] = p;
    r->matrix_line[u][i] = ctx->line;
    return 0;
}

/* tier <strategic|large|sme> <steps 0..3> */
static int s_parse_tier_line(parse_ctx_t *ctx, classify_rules_t *r, const char *rest)
{
    char tier[32], steps[16], extra[8];
    bool too_long = false;
    int t, n;

    if (!s_next_field(&rest, tier, sizeof(tier), &too_long) ||
        !s_next_field(&rest, steps, sizeof(steps), &too_long))
        return s_fail(ctx, "tier needs <strategic|large|sme> <steps 0..3>");
    if (s_next_field(&rest, extra, sizeof(extra), &too_long))
        return s_fail(ctx, "tier line has extra text");
    if ((t = s_index_of(s_tiers, TIERS, tier)) < 0)
        return s_fail(ctx, "unknown tier '%s'", tier);
    if (s_parse_int(steps, 0, 3, &n) < 0)
        return s_fail(ctx, "tier steps '%s' must be 0..3", steps);
    if (r->tier_line[t])
        return s_fail(ctx, "tier %s given twice (first on line %d)", tier, r->tier_line[t]);
    r->tier_raise[t] = n;
    r->tier_line[t] = ctx->line;
    return 0;
}

/* default urgency|impact|priority <value> */
static int s_parse_default_line(parse_ctx_t *ctx, classify_rules_t *r, const char *rest)
{
    char what[32], value[32], extra[8];
    bool too_long = false;
    int v;

    if (!s_next_field(&rest, what, sizeof(what), &too_long) ||
        !s_next_field(&rest, value, sizeof(value), &too_long))
        return s_fail(ctx, "default needs <urgency|impact|priority> <value>");
    if (s_next_field(&rest, extra, sizeof(extra), &too_long))
        return s_fail(ctx, "default line has extra text");
    if (strcmp(what, "urgency") == 0) {
        if ((v = s_index_of(s_urgencies, LEVELS, value)) < 0)
            return s_fail(ctx, "unknown urgency '%s'", value);
        r->default_urgency = v;
    } else if (strcmp(what, "impact") == 0) {
        if ((v = s_index_of(s_impacts, LEVELS, value)) < 0)
            return s_fail(ctx, "unknown impact '%s'", value);
        r->default_impact = v;
    } else if (strcmp(what, "priority") == 0) {
        if ((v = s_parse_priority(value)) < 0)
            return s_fail(ctx, "priority '%s' must be P1..P4", value);
        r->default_priority = v;
    } else {
        return s_fail(ctx, "unknown default '%s'", what);
    }
    return 0;
}

static int s_parse_version_line(parse_ctx_t *ctx, classify_rules_t *r, const char *rest)
{
    char value[32], extra[8];
    bool too_long = false;

    if (r->version)
        return s_fail(ctx, "version given twice");
    if (!s_next_field(&rest, value, sizeof(value), &too_long) || too_long ||
        s_parse_int(value, 1, 1000000000, &r->version) < 0)
        return s_fail(ctx, "version must be a positive integer");
    if (s_next_field(&rest, extra, sizeof(extra), &too_long))
        return s_fail(ctx, "version line has extra text");
    return 0;
}

/* One significant line (no comment, not blank, NUL-terminated). */
static int s_parse_line(parse_ctx_t *ctx, classify_rules_t *r, const char *line)
{
    char directive[16];
    bool too_long = false;
    const char *rest = line;

    s_next_field(&rest, directive, sizeof(directive), &too_long);
    if (too_long)
        return s_fail(ctx, "unknown directive '%.15s...'", directive);
    if (strcmp(directive, "version") == 0)
        return s_parse_version_line(ctx, r, rest);
    if (!r->version)
        return s_fail(ctx, "the first line must be 'version N'");
    if (strcmp(directive, "rule") == 0)
        return s_parse_rule_line(ctx, r, RULE_TYPE, rest);
    if (strcmp(directive, "emergency") == 0)
        return s_parse_rule_line(ctx, r, RULE_EMERGENCY, rest);
    if (strcmp(directive, "urgency") == 0)
        return s_parse_rule_line(ctx, r, RULE_URGENCY, rest);
    if (strcmp(directive, "impact") == 0)
        return s_parse_rule_line(ctx, r, RULE_IMPACT, rest);
    if (strcmp(directive, "ignore") == 0)
        return s_parse_rule_line(ctx, r, RULE_IGNORE, rest);
    if (strcmp(directive, "matrix") == 0)
        return s_parse_matrix_line(ctx, r, rest);
    if (strcmp(directive, "default") == 0)
        return s_parse_default_line(ctx, r, rest);
    if (strcmp(directive, "tier") == 0)
        return s_parse_tier_line(ctx, r, rest);
    return s_fail(ctx, "unknown directive '%s'", directive);
}

/*
 * Walk the text line by line.  Each line is copied into a bounded buffer
 * (CR stripped, so files saved on Windows work) and parsed on its own; the
 * first error stops the load.  A UTF-8 byte order mark at the very start is
 * skipped, again because Windows editors add one.
 */
classify_rules_t *classify_rules_parse(const char *text, size_t len, char *err, size_t errlen)
{
    parse_ctx_t ctx = {0, err, errlen};
    char line[CLASSIFY_RULES_MAX_LINE + 1];
    classify_rules_t *r;
    size_t pos = 0;

    if (err && errlen)
        err[0] = '\0';
    if (!text) {
        s_fail(&ctx, "no rules text");
        return NULL;
    }
    if (len > CLASSIFY_RULES_MAX_BYTES) {
        if (err && errlen)
            snprintf(err, errlen, "rules larger than %d bytes", CLASSIFY_RULES_MAX_BYTES);
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r)
        goto out_oom;
    r->default_urgency = 0; /* low */
    r->default_impact = 0;  /* single */
    r->default_priority = 3;
    r->tier_raise[0] = 1; /* strategic, unless the file says otherwise */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;

    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        const char *p;

        pos += n + (nl ? 1 : 0);
        ctx.line++;
        if (n && start[n - 1] == '\r')
            n--;
        if (n > CLASSIFY_RULES_MAX_LINE) {
            s_fail(&ctx, "longer than %d bytes", CLASSIFY_RULES_MAX_LINE);
            goto out_free_rules;
        }
        if (memchr(start, '\0', n)) {
            s_fail(&ctx, "contains a NUL byte");
            goto out_free_rules;
        }
        memcpy(line, start, n);
        line[n] = '\0';
        for (p = line; *p == ' ' || *p == '\t'; p++)
            ;
        if (*p == '\0' || *p == '#')
            continue;
        if (s_parse_line(&ctx, r, p) < 0)
            goto out_free_rules;
    }
    if (!r->version) {
        ctx.line = ctx.line ? ctx.line : 1;
        s_fail(&ctx, "no 'version N' line");
        goto out_free_rules;
    }
    return r;

out_free_rules:
    classify_rules_destroy(&r);
    return NULL;
out_oom:
    if (err && errlen)
        snprintf(err, errlen, "out of memory");
    return NULL;
}

/* Read the whole file (bounded) and parse it. */
classify_rules_t *classify_rules_load(const char *path, char *err, size_t errlen)
{
    classify_rules_t *r = NULL;
    char *buf = NULL;
    size_t len;
    FILE *f;

    if (!path) {
        if (err && errlen)
            snprintf(err, errlen, "no rules file path");
        return NULL;
    }
    f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(CLASSIFY_RULES_MAX_BYTES + 1);
    if (!buf) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        goto out_close;
    }
    len = fread(buf, 1, CLASSIFY_RULES_MAX_BYTES + 1, f);
    if (ferror(f)) {
        if (err && errlen)
            snprintf(err, errlen, "cannot read '%s'", path);
        goto out_free_buf;
    }
    if (len > CLASSIFY_RULES_MAX_BYTES) {
        if (err && errlen)
            snprintf(err, errlen, "'%s' is larger than %d bytes", path, CLASSIFY_RULES_MAX_BYTES);
        goto out_free_buf;
    }
    r = classify_rules_parse(buf, len, err, errlen);
out_free_buf:
    free(buf);
out_close:
    fclose(f);
    return r;
}

int classify_rules_version(const classify_rules_t *r)
{
    return r ? r->version : 0;
}

void classify_rules_destroy(classify_rules_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    free((*r_p)->rules);
    free(*r_p);
    *r_p = NULL;
}

/* -------------------------------------------------------- classification */

/* The normalised subject and text of one ticket, plus copies with the
 * ignore phrases blanked out ("signal" copies). */
typedef struct {
    char *subject, *text, *subject_sig, *text_sig;
    size_t subject_len, text_len;
    char *block;
} ticket_text_t;

static size_t s_bounded_len(const char *s)
{
    return s ? strnlen(s, CLASSIFY_TEXT_MAX_BYTES) : 0;
}

static int s_ticket_text_init(ticket_text_t *t, const classify_rules_t *r,
                              const classify_input_t *in)
{
    size_t slen = s_bounded_len(in->subject), tlen = s_bounded_len(in->text);

    t->block = malloc(2 * (slen + 1) + 2 * (tlen + 1));
    if (!t->block)
        return -1;
    t->subject = t->block;
    t->subject_sig = t->subject + slen + 1;
    t->text = t->subject_sig + slen + 1;
    t->text_sig = t->text + tlen + 1;
    t->subject_len = s_normalise(in->subject ? in->subject : "", slen, t->subject);
    t->text_len = s_normalise(in->text ? in->text : "", tlen, t->text);
    memcpy(t->subject_sig, t->subject, t->subject_len + 1);
    memcpy(t->text_sig, t->text, t->text_len + 1);
    for (size_t i = 0; i < r->rule_count; i++) {
        if (r->rules[i].kind != RULE_IGNORE)
            continue;
        s_mask(t->subject_sig, t->subject_len, &r->rules[i]);
        s_mask(t->text_sig, t->text_len, &r->rules[i]);
    }
    return 0;
}

static bool s_signal_matches(const ticket_text_t *t, const rule_t *rule)
{
    return s_matches(t->subject_sig, t->subject_len, rule) ||
           s_matches(t->text_sig, t->text_len, rule);
}

/*
 * Score every service type and pick the winner (see SERVICE TYPE in
 * classify.rules).  first_rule[] remembers, per type, the earliest rule that
 * matched, for the tie-break; best_rule[] the rule that added most.
 */
static void s_decide_type(const classify_rules_t *r, const ticket_text_t *t, classify_result_t *out)
{
    long score[SERVICE_TYPE_COUNT] = {0};
    long best_gain[SERVICE_TYPE_COUNT] = {0};
    const rule_t *best_rule[SERVICE_TYPE_COUNT] = {0};
    size_t first_rule[SERVICE_TYPE_COUNT];
    int winner = -1;

    for (size_t k = 0; k < SERVICE_TYPE_COUNT; k++)
        first_rule[k] = (size_t)-1;
    for (size_t i = 0; i < r->rule_count; i++) {
        const rule_t *rule = &r->rules[i];
        long gain = 0;
        if (rule->kind != RULE_TYPE)
            continue;
        if (s_matches(t->subject, t->subject_len, rule))
            gain += 2L * rule->weight;
        if (s_matches(t->text, t->text_len, rule))
            gain += rule->weight;
        if (!gain)
            continue;
        score[rule->target] += gain;
        if (first_rule[rule->target] == (size_t)-1)
            first_rule[rule->target] = i;
        if (gain > best_gain[rule->target]) {
            best_gain[rule->target] = gain;
            best_rule[rule->target] = rule;
        }
    }
    for (size_t k = 0; k < SERVICE_TYPE_COUNT; k++) {
        if (!score[k])
            continue;
        if (winner < 0 || score[k] > score[winner] ||
            (score[k] == score[winner] && first_rule[k] < first_rule[winner]))
            winner = (int)k;
    }
    if (winner < 0) {
        snprintf(out->service_type, sizeof(out->service_type), "%s",
                 s_service_types[SERVICE_TYPE_DEFAULT]);
        snprintf(out->rule_id, sizeof(out->rule_id), "default");
        return;
    }
    snprintf(out->service_type, sizeof(out->service_type), "%s", s_service_types[winner]);
    snprintf(out->rule_id, sizeof(out->rule_id), "%s", best_rule[winner]->id);
}

/* The most severe emergency level among the phrases and the explicit flag;
 * at equal level the flag is named, being the customer's own word. */
static void s_decide_emergency(const classify_rules_t *r, const ticket_text_t *t,
                               const classify_input_t *in, classify_result_t *out)
{
    if (in->emergency_flag >= 1 && in->emergency_flag <= 3) {
        out->emergency_level = in->emergency_flag;
        snprintf(out->emergency_rule_id, sizeof(out->emergency_rule_id), "requested");
    }
    for (size_t i = 0; i < r->rule_count; i++) {
        const rule_t *rule = &r->rules[i];
        if (rule->kind != RULE_EMERGENCY)
            continue;
        if (out->emergency_level && rule->target >= out->emergency_level)
            continue;
        if (!s_signal_matches(t, rule))
            continue;
        out->emergency_level = rule->target;
        snprintf(out->emergency_rule_id, sizeof(out->emergency_rule_id), "%s", rule->id);
    }
}

/* Highest target among the matching rules of one kind, or floor. */
static int s_highest_signal(const classify_rules_t *r, const ticket_text_t *t, rule_kind_t kind,
                            int floor)
{
    int level = floor;
    for (size_t i = 0; i < r->rule_count; i++) {
        const rule_t *rule = &r->rules[i];
        if (rule->kind == kind && rule->target > level && s_signal_matches(t, rule))
            level = rule->target;
    }
    return level;
}

/* Urgency implied by an emergency level: 1 -> critical, 2 -> high,
 * 3 -> medium, none -> low. */
static int s_emergency_urgency(int level)
{
    return level ? LEVELS - level : 0;
}

static void s_decide_priority(const classify_rules_t *r, const ticket_text_t *t,
                              const classify_input_t *in, classify_result_t *out)
{
    int floor = s_emergency_urgency(out->emergency_level);
    int u = s_index_of(s_urgencies, LEVELS, in->urgency);
    int i = s_index_of(s_impacts, LEVELS, in->impact);
    int p;

    if (u < 0) {
        u = s_highest_signal(r, t, RULE_URGENCY, r->default_urgency);
    }
    if (u < floor)
        u = floor;
    if (i < 0)
        i = s_highest_signal(r, t, RULE_IMPACT, r->default_impact);
    p = r->matrix[u][i] ? r->matrix[u][i] : r->default_priority;
    int tier = in->tier ? s_index_of(s_tiers, TIERS, in->tier) : -1;
    if (tier >= 0)
        p -= r->tier_raise[tier];
    if (p < 1)
        p = 1;
    snprintf(out->urgency, sizeof(out->urgency), "%s", s_urgencies[u]);
    snprintf(out->impact, sizeof(out->impact), "%s", s_impacts[i]);
    out->priority[0] = 'P';
    out->priority[1] = (char)('0' + p); /* 1..4 */
    out->priority[2] = '\0';
}

int classify_ticket(const classify_rules_t *r, const classify_input_t *in, classify_result_t *out)
{
    ticket_text_t t;

    if (!r || !in || !out)
        return -1;
    memset(out, 0, sizeof(*out));
    if (s_ticket_text_init(&t, r, in) < 0)
        return -1;

    if (in->requested_type && classify_is_service_type(in->requested_type)) {
        snprintf(out->service_type, sizeof(out->service_type), "%s", in->requested_type);
        snprintf(out->rule_id, sizeof(out->rule_id), "requested");
    } else {
        s_decide_type(r, &t, out);
    }
    s_decide_emergency(r, &t, in, out);
    s_decide_priority(r, &t, in, out);
    free(t.block);
    return 0;
}
