/*
 * case.c - the complaint_case state machine and vocabulary (see case.h).
 *
 * The allowed moves live in one table, so that a reader sees the whole
 * process at once and the tests can walk every status × action pair.
 */
#include "case.h"
#include "cs_civil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_names[COMPLAINT_STATUS_COUNT] = {
    [COMPLAINT_RECEIVED] = "received",     [COMPLAINT_ACCEPTED] = "accepted",
    [COMPLAINT_CLASSIFIED] = "classified", [COMPLAINT_INVESTIGATING] = "investigating",
    [COMPLAINT_HANDLING] = "handling",     [COMPLAINT_FEEDBACK] = "feedback",
    [COMPLAINT_ARCHIVED] = "archived",     [COMPLAINT_RESOLVED] = "resolved",
};

static const char *const s_actions[COMPLAINT_ACT_COUNT] = {
    [COMPLAINT_ACT_ACCEPT] = "accept",           [COMPLAINT_ACT_CLASSIFY] = "classify",
    [COMPLAINT_ACT_INVESTIGATE] = "investigate", [COMPLAINT_ACT_ASSIGN] = "assign",
    [COMPLAINT_ACT_FEEDBACK] = "feedback",       [COMPLAINT_ACT_ANSWER] = "answer",
    [COMPLAINT_ACT_ARCHIVE] = "archive",
};

/* The six steps: which action moves which status where.  The answer has
   two rows: accepted (1) and not accepted (0); -1 means either. */
static const struct {
    complaint_action_t action;
    complaint_status_t from, to;
    int accepted;
} s_moves[] = {
    {COMPLAINT_ACT_ACCEPT, COMPLAINT_RECEIVED, COMPLAINT_ACCEPTED, -1},
    {COMPLAINT_ACT_CLASSIFY, COMPLAINT_ACCEPTED, COMPLAINT_CLASSIFIED, -1},
    {COMPLAINT_ACT_INVESTIGATE, COMPLAINT_CLASSIFIED, COMPLAINT_INVESTIGATING, -1},
    {COMPLAINT_ACT_ASSIGN, COMPLAINT_INVESTIGATING, COMPLAINT_HANDLING, -1},
    {COMPLAINT_ACT_FEEDBACK, COMPLAINT_HANDLING, COMPLAINT_FEEDBACK, -1},
    {COMPLAINT_ACT_ANSWER, COMPLAINT_FEEDBACK, COMPLAINT_RESOLVED, 1},
    {COMPLAINT_ACT_ANSWER, COMPLAINT_FEEDBACK, COMPLAINT_HANDLING, 0},
    {COMPLAINT_ACT_ARCHIVE, COMPLAINT_FEEDBACK, COMPLAINT_ARCHIVED, -1},
    {COMPLAINT_ACT_ARCHIVE, COMPLAINT_RESOLVED, COMPLAINT_ARCHIVED, -1},
};
#define MOVES (sizeof(s_moves) / sizeof(s_moves[0]))

const char *complaint_status_name(complaint_status_t status)
{
    if ((int)status < 0 || status >= COMPLAINT_STATUS_COUNT)
        return NULL;
    return s_names[status];
}

int complaint_status_parse(const char *name, complaint_status_t *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < COMPLAINT_STATUS_COUNT; i++)
        if (strcmp(name, s_names[i]) == 0) {
            *out = (complaint_status_t)i;
            return 0;
        }
    return -1;
}

int complaint_status_is_open(complaint_status_t status)
{
    return status != COMPLAINT_ARCHIVED;
}

const char *complaint_action_name(complaint_action_t action)
{
    if ((int)action < 0 || action >= COMPLAINT_ACT_COUNT)
        return NULL;
    return s_actions[action];
}

/* "accepted", "feedback or resolved": the statuses `action` starts from. */
static void s_froms(complaint_action_t action, char *buf, size_t size)
{
    size_t n = 0;
    int seen[COMPLAINT_STATUS_COUNT] = {0};
    buf[0] = '\0';
    for (size_t i = 0; i < MOVES; i++) {
        if (s_moves[i].action != action || seen[s_moves[i].from])
            continue;
        seen[s_moves[i].from] = 1;
        int w = snprintf(buf + n, size - n, "%s%s", n ? " or " : "", s_names[s_moves[i].from]);
        if (w < 0 || (size_t)w >= size - n)
            return;
        n += (size_t)w;
    }
}

int complaint_next_status(complaint_status_t from, complaint_action_t action, int customer_accepted,
                          complaint_status_t *to, char *err, size_t errlen)
{
    const char *verb = complaint_action_name(action);
    if (!verb) {
        snprintf(err, errlen, "unknown action");
        return -1;
    }
    for (size_t i = 0; i < MOVES; i++)
        if (s_moves[i].action == action && s_moves[i].from == from &&
            (s_moves[i].accepted < 0 || s_moves[i].accepted == (customer_accepted ? 1 : 0))) {
            *to = s_moves[i].to;
            return 0;
        }
    char froms[96];
    s_froms(action, froms, sizeof(froms));
    const char *now = complaint_status_name(from) ? complaint_status_name(from) : "unknown";
    snprintf(err, errlen, "cannot %s a complaint that is %s: %s is a step from %s only", verb, now,
             verb, froms);
    return -1;
}

int complaint_evidence_allowed(complaint_status_t status)
{
    return status == COMPLAINT_INVESTIGATING || status == COMPLAINT_HANDLING;
}

/* ---- classification ------------------------------------------------------- */

static const char *const s_categories[] = {
    "product_quality",      "delivery",      "service_response",
    "technical_competence", "safety",        "environment",
    "contract_billing",     "staff_conduct", NULL};
static const char *const s_scopes[] = {"person", "site", "sites", "public", NULL};
static const char *const s_urgencies[] = {"low", "medium", "high", NULL};
static const char *const s_root_causes[] = {
    "design",    "material", "process", "equipment", "logistics",     "communication", "training",
    "procedure", "conduct",  "billing", "external",  "customer_side", "no_fault",      NULL};

static int s_index(const char *const *list, const char *value)
{
    for (int i = 0; value && list[i]; i++)
        if (strcmp(list[i], value) == 0)
            return i;
    return -1;
}

int complaint_category_valid(const char *value)
{
    return s_index(s_categories, value) >= 0;
}
int complaint_scope_valid(const char *value)
{
    return s_index(s_scopes, value) >= 0;
}
int complaint_urgency_valid(const char *value)
{
    return s_index(s_urgencies, value) >= 0;
}
int complaint_root_cause_valid(const char *value)
{
    return s_index(s_root_causes, value) >= 0;
}

const char *complaint_category_list(void)
{
    return "product_quality, delivery, service_response, technical_competence, safety,"
           " environment, contract_billing, staff_conduct";
}
const char *complaint_scope_list(void)
{
    return "person, site, sites, public";
}
const char *complaint_urgency_list(void)
{
    return "low, medium, high";
}
const char *complaint_root_cause_list(void)
{
    return "design, material, process, equipment, logistics, communication, training,"
           " procedure, conduct, billing, external, customer_side, no_fault";
}

/* Base priority (1..4) by scope of impact (rows) and urgency (columns):
 *
 *               low   medium  high
 *     person    P4    P3      P2
 *     site      P3    P3      P2
 *     sites     P3    P2      P1
 *     public    P2    P1      P1
 *
 * A complaint about safety or the environment is one level higher. */
static const int s_base[4][3] = {{4, 3, 2}, {3, 3, 2}, {3, 2, 1}, {2, 1, 1}};

const char *complaint_priority(const char *category, const char *scope, const char *urgency)
{
    static const char *const names[] = {"", "P1", "P2", "P3", "P4"};
    int s = s_index(s_scopes, scope), u = s_index(s_urgencies, urgency);
    if (!complaint_category_valid(category) || s < 0 || u < 0)
        return NULL;
    int p = s_base[s][u];
    if ((strcmp(category, "safety") == 0 || strcmp(category, "environment") == 0) && p > 1)
        p--;
    return names[p];
}

/* ---- the acceptance deadline -------------------------------------------- */

void complaint_case_open(complaint_case_t *c, int64_t received_at_ms, int accept_hours)
{
    memset(c, 0, sizeof(*c));
    c->status = COMPLAINT_RECEIVED;
    c->received_at_ms = received_at_ms;
    c->accept_due_ms = received_at_ms + (int64_t)accept_hours * 3600 * 1000;
}

int complaint_case_accept_overdue(const complaint_case_t *c, int64_t now_ms)
{
    if (c->accepted_at_ms)
        return c->accepted_at_ms > c->accept_due_ms;
    return c->status == COMPLAINT_RECEIVED && now_ms > c->accept_due_ms;
}

/* ---- input checks ----------------------------------------------------------- */

int complaint_handler_check(const char *handler, char *err, size_t errlen)
{
    size_t n = handler ? strlen(handler) : 0;
    if (n == 0) {
        snprintf(err, errlen, "handler is required");
        return -1;
    }
    if (n > COMPLAINT_HANDLER_MAX) {
        snprintf(err, errlen, "handler must be at most %d characters", COMPLAINT_HANDLER_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = handler[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-' || ch == '@';
        if (!ok) {
            snprintf(err, errlen, "handler may contain only letters, digits and . _ - @");
            return -1;
        }
    }
    return 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if it is not
   a well-formed, shortest-form scalar value. */
static size_t s_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

int complaint_text_is_utf8(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        size_t len = s_utf8_len((const unsigned char *)s + i, n - i);
        if (len == 0)
            return 0;
        i += len;
    }
    return 1;
}

int complaint_text_check(const char *field, const char *value, int required, size_t max, char *err,
                         size_t errlen)
{
    size_t n = value ? strlen(value) : 0;
    int visible = 0;
    if (n > max) {
        snprintf(err, errlen, "%s must be at most %zu bytes", field, max);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        const unsigned char *p = (const unsigned char *)value + i;
        size_t len = s_utf8_len(p, n - i);
        if (len == 0) {
            snprintf(err, errlen, "%s must be valid UTF-8", field);
            return -1;
        }
        if (len == 1 && (p[0] < 0x20 || p[0] == 0x7F) && p[0] != '\t' && p[0] != '\n' &&
            p[0] != '\r') {
            snprintf(err, errlen, "%s must not contain control characters", field);
            return -1;
        }
        if (!(len == 1 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r')))
            visible = 1;
        i += len;
    }
    if (required && !visible) {
        snprintf(err, errlen, "%s is required", field);
        return -1;
    }
    return 0;
}

/* ---- times ------------------------------------------------------------------- */

/* n decimal digits at s as a number, or -1. */
static int s_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int complaint_parse_time(const char *s, int64_t *ms)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 40)
        return -1;
    if (strspn(s, "0123456789") == n) {
        if (n > 15)
            return -1;
        *ms = strtoll(s, NULL, 10);
        return 0;
    }
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = s_num(s, 4), mo = s_num(s + 5, 2), d = s_num(s + 8, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > cs_days_in_month(y, mo))
        return -1;
    int64_t t = cs_days_from_civil(y, mo, d) * 86400000LL;
    const char *p = s + 10;
    if (*p == '\0') {
        *ms = t;
        return 0;
    }
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    int hh = s_num(p, 2), mi = -1, ss = 0, frac = 0;
    if (hh < 0 || hh > 23 || p[2] != ':' || (mi = s_num(p + 3, 2)) < 0 || mi > 59)
        return -1;
    p += 5;
    if (*p == ':') {
        ss = s_num(p + 1, 2);
        if (ss < 0 || ss > 59)
            return -1;
        p += 3;
        if (*p == '.') {
            int digits = 0;
            for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                if (digits < 3)
                    frac = frac * 10 + (*p - '0');
            if (digits == 0)
                return -1;
            for (; digits < 3; digits++)
                frac *= 10;
        }
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = s_num(p + 1, 2), om = -1;
        if (oh < 0 || oh > 23 || p[3] != ':' || (om = s_num(p + 4, 2)) < 0 || om > 59)
            return -1;
        offset = ((int64_t)oh * 60 + om) * 60000 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1; /* a time without a zone is ambiguous */
    }
    if (*p != '\0')
        return -1;
    *ms = t + ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac - offset;
    return 0;
}
