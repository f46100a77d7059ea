/*
 * case.c - the complaint_case state machine (see case.h for the why).
 *
 * The allowed moves live in one table so that enabling a later step of the
 * six-step process is a one-line change that the tests then pin down.
 */
#include "case.h"

#include <stdio.h>
#include <string.h>

static const char *const s_names[COMPLAINT_STATUS_COUNT] = {
    [COMPLAINT_RECEIVED] = "received",     [COMPLAINT_ACCEPTED] = "accepted",
    [COMPLAINT_CLASSIFIED] = "classified", [COMPLAINT_INVESTIGATING] = "investigating",
    [COMPLAINT_HANDLING] = "handling",     [COMPLAINT_FEEDBACK] = "feedback",
    [COMPLAINT_ARCHIVED] = "archived",     [COMPLAINT_RESOLVED] = "resolved",
};

/* The moves enabled today: the short path accept -> close. */
static const struct {
    complaint_status_t from, to;
} s_moves[] = {
    {COMPLAINT_RECEIVED, COMPLAINT_ACCEPTED},
    {COMPLAINT_ACCEPTED, COMPLAINT_RESOLVED},
};

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
    return status != COMPLAINT_RESOLVED && status != COMPLAINT_ARCHIVED;
}

int complaint_transition_allowed(complaint_status_t from, complaint_status_t to)
{
    for (size_t i = 0; i < sizeof(s_moves) / sizeof(s_moves[0]); i++)
        if (s_moves[i].from == from && s_moves[i].to == to)
            return 1;
    return 0;
}

void complaint_case_open(complaint_case_t *c, int64_t received_at_ms, int accept_hours)
{
    memset(c, 0, sizeof(*c));
    c->status = COMPLAINT_RECEIVED;
    c->received_at_ms = received_at_ms;
    c->accept_due_ms = received_at_ms + (int64_t)accept_hours * 3600 * 1000;
}

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

int complaint_resolution_check(const char *resolution, char *err, size_t errlen)
{
    size_t n = resolution ? strlen(resolution) : 0;
    int visible = 0;
    if (n > COMPLAINT_RESOLUTION_MAX) {
        snprintf(err, errlen, "resolution must be at most %d bytes", COMPLAINT_RESOLUTION_MAX);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        const unsigned char *p = (const unsigned char *)resolution + i;
        size_t len = s_utf8_len(p, n - i);
        if (len == 0) {
            snprintf(err, errlen, "resolution must be valid UTF-8");
            return -1;
        }
        if (len == 1 && (p[0] < 0x20 || p[0] == 0x7F) && p[0] != '\t' && p[0] != '\n' &&
            p[0] != '\r') {
            snprintf(err, errlen, "resolution must not contain control characters");
            return -1;
        }
        if (!(len == 1 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r')))
            visible = 1;
        i += len;
    }
    if (!visible) {
        snprintf(err, errlen, "resolution is required: say how the complaint was resolved");
        return -1;
    }
    return 0;
}

/* Move c to `to` if the table allows it; otherwise say where it stands. */
static int s_move(complaint_case_t *c, complaint_status_t to, const char *verb, char *err,
                  size_t errlen)
{
    if (complaint_transition_allowed(c->status, to))
        return 0;
    snprintf(err, errlen, "cannot %s a complaint that is %s", verb,
             complaint_status_name(c->status) ? complaint_status_name(c->status) : "unknown");
    return -1;
}

int complaint_case_accept(complaint_case_t *c, const char *handler, int64_t now_ms, char *err,
                          size_t errlen)
{
    if (s_move(c, COMPLAINT_ACCEPTED, "accept", err, errlen) < 0)
        return -1;
    c->status = COMPLAINT_ACCEPTED;
    c->accepted_at_ms = now_ms;
    snprintf(c->handler, sizeof(c->handler), "%s", handler ? handler : "");
    return 0;
}

int complaint_case_close(complaint_case_t *c, const char *handler, int64_t now_ms, char *err,
                         size_t errlen)
{
    if (s_move(c, COMPLAINT_RESOLVED, "close", err, errlen) < 0)
        return -1;
    c->status = COMPLAINT_RESOLVED;
    c->resolved_at_ms = now_ms;
    snprintf(c->handler, sizeof(c->handler), "%s", handler ? handler : "");
    return 0;
}

int complaint_case_accept_overdue(const complaint_case_t *c, int64_t now_ms)
{
    if (c->accepted_at_ms)
        return c->accepted_at_ms > c->accept_due_ms;
    return c->status == COMPLAINT_RECEIVED && now_ms > c->accept_due_ms;
}
