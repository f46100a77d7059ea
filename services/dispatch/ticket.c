/*
 * ticket — see ticket.h. The lifecycle table first, then the ticket record
 * (arena, cleaning of outside text), then its SQL and its events.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_bus.h"
#include "cs_json.h"
#include "cs_commitment.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "ticket.h"

/* ---- the state machine ------------------------------------------------------ */

static const char *const s_status_names[TICKET_STATUS_COUNT] = {
    "new",      "accepted", "queued",   "assigned",  "in_progress", "pending_customer",
    "resolved", "closed",   "reopened", "terminated"};

#define B(s) (1u << (s))
/* s_moves[from] = the set of statuses a ticket in `from` may move to. */
static const unsigned s_moves[TICKET_STATUS_COUNT] = {
    [TICKET_NEW] = B(TICKET_ACCEPTED) | B(TICKET_TERMINATED),
    [TICKET_ACCEPTED] = B(TICKET_QUEUED) | B(TICKET_ASSIGNED) | B(TICKET_TERMINATED),
    [TICKET_QUEUED] = B(TICKET_ASSIGNED) | B(TICKET_TERMINATED),
    [TICKET_ASSIGNED] = B(TICKET_IN_PROGRESS) | B(TICKET_QUEUED) | B(TICKET_TERMINATED),
    /* responding again while in progress is a move onto itself: it is logged
       and told to the customer like the first response */
    [TICKET_IN_PROGRESS] = B(TICKET_IN_PROGRESS) | B(TICKET_PENDING_CUSTOMER) | B(TICKET_RESOLVED) |
                           B(TICKET_TERMINATED),
    [TICKET_PENDING_CUSTOMER] = B(TICKET_IN_PROGRESS) | B(TICKET_RESOLVED) | B(TICKET_TERMINATED),
    [TICKET_RESOLVED] = B(TICKET_CLOSED) | B(TICKET_REOPENED) | B(TICKET_TERMINATED),
    [TICKET_CLOSED] = B(TICKET_REOPENED),
    [TICKET_REOPENED] = B(TICKET_IN_PROGRESS) | B(TICKET_RESOLVED) | B(TICKET_TERMINATED),
    [TICKET_TERMINATED] = 0,
};

const char *ticket_status_name(ticket_status_t s)
{
    return (unsigned)s < TICKET_STATUS_COUNT ? s_status_names[s] : "?";
}

int ticket_status_parse(const char *name, ticket_status_t *out)
{
    for (int i = 0; name && i < TICKET_STATUS_COUNT; i++)
        if (strcmp(name, s_status_names[i]) == 0) {
            *out = (ticket_status_t)i;
            return 0;
        }
    return -1;
}

int ticket_can_move(ticket_status_t from, ticket_status_t to)
{
    if ((unsigned)from >= TICKET_STATUS_COUNT || (unsigned)to >= TICKET_STATUS_COUNT)
        return 0;
    return (s_moves[from] & B(to)) != 0;
}

int ticket_status_is_workload(ticket_status_t s)
{
    return s == TICKET_ASSIGNED || s == TICKET_IN_PROGRESS || s == TICKET_PENDING_CUSTOMER ||
           s == TICKET_REOPENED;
}

int ticket_status_is_open(ticket_status_t s)
{
    return (unsigned)s < TICKET_STATUS_COUNT && s != TICKET_CLOSED && s != TICKET_TERMINATED;
}

/* done: the action as it reads after "it cannot be …", for the 409 an agent
   gets when the lifecycle refuses it ("cannot be put on hold now").
   target: the status it leads to, or KEEP for the actions that leave the
   status as it is. from: the statuses it is allowed in (0 = wherever the
   lifecycle allows the move to target). */
#define KEEP (-1)
#define WORKLOAD                                                                                   \
    (B(TICKET_ASSIGNED) | B(TICKET_IN_PROGRESS) | B(TICKET_PENDING_CUSTOMER) | B(TICKET_REOPENED))
#define UNFINISHED                                                                                 \
    (B(TICKET_NEW) | B(TICKET_ACCEPTED) | B(TICKET_QUEUED) | WORKLOAD | B(TICKET_RESOLVED))
static const struct {
    const char *name;
    const char *done;
    int target;
    unsigned from;
    const char *event;
    const char *text_field;
    int text_required;
} s_actions[TICKET_ACTION_COUNT] = {
    [TICKET_RESPOND] = {"respond", "responded to", TICKET_IN_PROGRESS, 0,
                        "dispatch.ticket.responded", "message", 1},
    [TICKET_HOLD] = {"hold", "put on hold", TICKET_PENDING_CUSTOMER, 0,
                     "dispatch.ticket.status_changed", "reason", 0},
    [TICKET_RESOLVE] = {"resolve", "resolved", TICKET_RESOLVED, 0, "dispatch.ticket.resolved",
                        "report", 1},
    [TICKET_CLOSE] = {"close", "closed", TICKET_CLOSED, 0, "dispatch.ticket.closed", "reason", 0},
    [TICKET_REOPEN] = {"reopen", "reopened", TICKET_REOPENED, 0, "dispatch.ticket.reopened",
                       "reason", 1},
    [TICKET_TERMINATE] = {"terminate", "terminated", TICKET_TERMINATED, 0,
                          "dispatch.ticket.terminated", "reason", 1},
    /* accept and assign take a ticket nobody holds; one somebody holds is transferred */
    [TICKET_ACCEPT] = {"accept", "accepted", TICKET_ASSIGNED, 0, "dispatch.ticket.assigned",
                       "reason", 0},
    [TICKET_ASSIGN] = {"assign", "assigned", TICKET_ASSIGNED, 0, "dispatch.ticket.assigned",
                       "reason", 0},
    [TICKET_TRANSFER] = {"transfer", "transferred", KEEP, WORKLOAD, "dispatch.ticket.transferred",
                         "reason", 1},
    /* a terminated ticket is finished for good; a closed one may still be
       annotated (and reopened) */
    [TICKET_NOTE] = {"note", "annotated", KEEP, UNFINISHED | B(TICKET_CLOSED),
                     "dispatch.ticket.noted", "text", 1},
    [TICKET_RESUME] = {"resume", "resumed", TICKET_IN_PROGRESS, B(TICKET_PENDING_CUSTOMER),
                       "dispatch.ticket.status_changed", "reason", 0},
    [TICKET_RECLASSIFY] = {"reclassify", "reclassified", KEEP, UNFINISHED,
                           "dispatch.ticket.reclassified", "reason", 1},
};

const char *ticket_action_name(ticket_action_t a)
{
    return (unsigned)a < TICKET_ACTION_COUNT ? s_actions[a].name : "?";
}

const char *ticket_action_done(ticket_action_t a)
{
    return (unsigned)a < TICKET_ACTION_COUNT ? s_actions[a].done : "?";
}

int ticket_action_parse(const char *name, ticket_action_t *out)
{
    for (int i = 0; name && i < TICKET_ACTION_COUNT; i++)
        if (strcmp(name, s_actions[i].name) == 0) {
            *out = (ticket_action_t)i;
            return 0;
        }
    return -1;
}

/* A moving action is allowed only where the lifecycle allows its move, so
   the two tables can never disagree. */
int ticket_action_target(ticket_action_t a, ticket_status_t from)
{
    if ((unsigned)a >= TICKET_ACTION_COUNT || (unsigned)from >= TICKET_STATUS_COUNT)
        return -1;
    if (s_actions[a].from && !(s_actions[a].from & B(from)))
        return -1;
    if (s_actions[a].target == KEEP)
        return (int)from;
    return ticket_can_move(from, (ticket_status_t)s_actions[a].target) ? s_actions[a].target : -1;
}

int ticket_action_keeps_status(ticket_action_t a)
{
    return (unsigned)a < TICKET_ACTION_COUNT && s_actions[a].target == KEEP;
}

const char *ticket_action_event(ticket_action_t a)
{
    return (unsigned)a < TICKET_ACTION_COUNT ? s_actions[a].event : NULL;
}

const char *ticket_action_text_field(ticket_action_t a, int *required)
{
    if ((unsigned)a >= TICKET_ACTION_COUNT)
        return NULL;
    if (required)
        *required = s_actions[a].text_required;
    return s_actions[a].text_field;
}

/* ---- text from outside ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0. */
static size_t s_utf8_len(const unsigned char *s, size_t avail)
{
    size_t n;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2, cp = s[0] & 0x1F;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3, cp = s[0] & 0x0F;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and values above U+10FFFF */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

size_t ticket_clean_text(char *dst, size_t size, const char *src, size_t max)
{
    assert(dst && size > 0);
    size_t out = 0, limit = max < size - 1 ? max : size - 1;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t avail = strlen((const char *)s);
    while (avail) {
        size_t n = s_utf8_len(s, avail);
        const char *piece = (const char *)s;
        size_t len = n;
        if (n == 0) {
            piece = "?"; /* a byte that is not UTF-8 */
            len = 1;
            n = 1;
        } else if (n == 1 && (s[0] < 0x20 || s[0] == 0x7F) && s[0] != '\n' && s[0] != '\t') {
            piece = " ";
        }
        if (out + len > limit)
            break;
        memcpy(dst + out, piece, len);
        out += len;
        s += n;
        avail -= n;
    }
    dst[out] = 0;
    return out;
}

static int s_charset_valid(const char *s, size_t max, const char *extra, int upper)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (const char *c = s; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                 (upper && *c >= 'A' && *c <= 'Z') || strchr(extra, *c);
        if (!ok)
            return 0;
    }
    return 1;
}

int ticket_number_valid(const char *s)
{
    return s_charset_valid(s, TICKET_NUMBER_MAX, "-_", 1);
}

int ticket_login_valid(const char *s)
{
    return s_charset_valid(s, TICKET_LOGIN_MAX, "._-", 0);
}

/* ---- the record and its arena ------------------------------------------------------ */

/* All the text of one ticket lives in a chain of blocks freed together. */
struct ticket_arena {
    struct ticket_arena *next;
    size_t used, size;
    char data[];
};

#define ARENA_BLOCK 4096

static char *s_alloc(ticket_t *self, size_t n)
{
    ticket_arena_t *a = self->arena;
    if (!a || a->size - a->used < n) {
        size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        ticket_arena_t *b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->next = a;
        b->used = 0;
        b->size = size;
        self->arena = a = b;
    }
    char *p = a->data + a->used;
    a->used += n;
    return p;
}

/* The bound for a field, by which field it is. */
static size_t s_bound(const ticket_t *self, const char **field)
{
    if (field == &self->subject)
        return TICKET_SUBJECT_MAX;
    if (field == &self->description)
        return TICKET_DESCRIPTION_MAX;
    if (field == &self->message_id)
        return 998; /* RFC 5322 line length */
    return TICKET_NAME_MAX;
}

const char *ticket_keep(ticket_t *self, const char *s, size_t max)
{
    size_t want = s ? strlen(s) : 0;
    size_t n = (want < max ? want : max) + 1;
    char *p = s_alloc(self, n);
    if (!p)
        return ""; /* out of memory: an empty field rather than a crash */
    ticket_clean_text(p, n, s, max);
    return p;
}

void ticket_set(ticket_t *self, const char **field, const char *s)
{
    *field = ticket_keep(self, s, s_bound(self, field));
}

static ticket_t *s_new(void)
{
    ticket_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    const char **text[] = {&self->ticket_id,
                           &self->number,
                           &self->channel,
                           &self->customer_id,
                           &self->customer_name,
                           &self->customer_email,
                           &self->customer_phone,
                           &self->customer_company,
                           &self->tier,
                           &self->language,
                           &self->subject,
                           &self->description,
                           &self->message_id,
                           &self->requested_type,
                           &self->service_type,
                           &self->urgency,
                           &self->impact,
                           &self->priority,
                           &self->rule_id,
                           &self->team,
                           &self->assignee,
                           &self->owner,
                           &self->emergency_rule_id,
                           &self->at_risk,
                           &self->at_risk_target};
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        *text[i] = "";
    return self;
}

void ticket_destroy(ticket_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ticket_arena_t *a = (*self_p)->arena;
    while (a) {
        ticket_arena_t *next = a->next;
        free(a);
        a = next;
    }
    free(*self_p);
    *self_p = NULL;
}

/* value if it is one of the allowed words, else dflt */
static const char *s_one_of(const char *value, const char *const *allowed, const char *dflt)
{
    for (size_t i = 0; value && allowed[i]; i++)
        if (strcmp(value, allowed[i]) == 0)
            return allowed[i];
    return dflt;
}

static const char *const s_channels[] = {"email", "web", "app", "onsite", "partner", "phone", NULL};
static const char *const s_tiers[] = {"strategic", "large", "sme", NULL};
static const char *const s_languages[] = {"zh-CN", "en", NULL};

/* Copy the parts of intake's event a ticket keeps. */
static void s_copy_created(ticket_t *self, const Cs__TicketCreated *tc)
{
    const Cs__Customer *c = tc->customer;
    ticket_set(self, &self->ticket_id, tc->ticket_id);
    ticket_set(self, &self->number, tc->number);
    self->channel = s_one_of(tc->channel, s_channels, "other");
    self->received_at_ms = tc->received_at_ms > 0 ? tc->received_at_ms : cs_now_ms();
    if (c) {
        ticket_set(self, &self->customer_id, c->customer_id);
        ticket_set(self, &self->customer_name, c->name);
        ticket_set(self, &self->customer_email, c->email);
        ticket_set(self, &self->customer_phone, c->phone);
        ticket_set(self, &self->customer_company, c->company);
        self->tier = s_one_of(c->tier, s_tiers, "");
    }
    const char *lang = tc->language && *tc->language ? tc->language : c ? c->language : NULL;
    self->language = s_one_of(lang, s_languages, "zh-CN");
    ticket_set(self, &self->subject, tc->subject);
    ticket_set(self, &self->description, tc->text);
    ticket_set(self, &self->message_id, tc->message_id);
    if (classify_is_service_type(tc->requested_type))
        ticket_set(self, &self->requested_type, tc->requested_type);
}

/* Classify and state the commitments that follow from the priority. */
static void s_classify(ticket_t *self, const Cs__TicketCreated *tc, const classify_rules_t *rules)
{
    classify_input_t in = {.subject = self->subject,
                           .text = self->description,
                           .requested_type = self->requested_type,
                           .channel = self->channel,
                           .tier = self->tier,
                           .urgency = tc->urgency,
                           .impact = tc->impact,
                           .emergency_flag = tc->emergency_flag <= 3 ? (int)tc->emergency_flag : 0};
    classify_result_t out;
    classify_ticket(rules, &in, &out);
    ticket_set(self, &self->service_type, out.service_type);
    ticket_set(self, &self->urgency, out.urgency);
    ticket_set(self, &self->impact, out.impact);
    ticket_set(self, &self->priority, out.priority);
    ticket_set(self, &self->rule_id, out.rule_id);
    ticket_set(self, &self->emergency_rule_id, out.emergency_rule_id);
    self->emergency_level = out.emergency_level;
    self->rules_version = classify_rules_version(rules);
    ticket_set_commitments(self);
}

void ticket_set_commitments(ticket_t *self)
{
    cs_commitment_t cm = cs_commitment_for(self->priority);
    self->first_response_minutes = cm.response_min;
    self->resolution_minutes = cm.resolution_min;
    self->expected_start_ms = self->received_at_ms + (int64_t)cm.response_min * 60000;
}

ticket_t *ticket_from_created(const Cs__TicketCreated *tc, const classify_rules_t *rules, char *err,
                              size_t errlen)
{
    assert(tc && rules);
    if (!cs_is_uuid(tc->ticket_id)) {
        snprintf(err, errlen, "ticket_id is not a UUID");
        return NULL;
    }
    if (!ticket_number_valid(tc->number)) {
        snprintf(err, errlen, "number must be 1..%d of A-Z a-z 0-9 - _", TICKET_NUMBER_MAX);
        return NULL;
    }
    ticket_t *self = s_new();
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s_copy_created(self, tc);
    s_classify(self, tc, rules);
    self->status = TICKET_NEW;
    return self;
}

/* ---- SQL ------------------------------------------------------------------------------ */

int ticket_insert(cs_db_t *db, const ticket_t *t)
{
    char rx[24], em[24], rv[24], fr[24], rs[24], es[24];
    const char *p[] = {t->ticket_id,
                       t->number,
                       t->channel,
                       cs_db_i64(rx, t->received_at_ms),
                       t->customer_id,
                       t->customer_name,
                       t->customer_email,
                       t->customer_phone,
                       t->customer_company,
                       t->tier,
                       t->language,
                       t->subject,
                       t->description,
                       t->message_id,
                       t->requested_type,
                       t->service_type,
                       t->urgency,
                       t->impact,
                       t->priority,
                       cs_db_i64(em, t->emergency_level),
                       t->rule_id,
                       cs_db_i64(rv, t->rules_version),
                       ticket_status_name(t->status),
                       cs_db_i64(fr, t->first_response_minutes),
                       cs_db_i64(rs, t->resolution_minutes),
                       cs_db_i64(es, t->expected_start_ms),
                       t->emergency_rule_id};
    int64_t n = cs_db_cmd(
        db,
        "INSERT INTO tickets (ticket_id, number, channel, received_at, customer_id,"
        " customer_name, customer_email, customer_phone, customer_company, tier, language,"
        " subject, description, message_id, requested_type, service_type, urgency, impact,"
        " priority, emergency_level, rule_id, rules_version, status, first_response_minutes,"
        " resolution_minutes, expected_start_at, emergency_rule_id)"
        " VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), $5, $6, $7, $8, $9, $10, $11,"
        " $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,"
        " to_timestamp($26::bigint / 1000.0), $27)"
        " ON CONFLICT DO NOTHING",
        27, p);
    return n < 0 ? -1 : n > 0 ? 1 : 0;
}

#define TICKET_COLUMNS                                                                             \
    "ticket_id, number, channel, (extract(epoch FROM received_at) * 1000)::bigint,"                \
    " customer_id, customer_name, customer_email, customer_phone, customer_company, tier,"         \
    " language, subject, description, message_id, requested_type, service_type, urgency,"          \
    " impact, priority, emergency_level, rule_id, rules_version, coalesce(team, ''),"              \
    " coalesce(assignee, ''), coalesce(owner, ''), status, escalation_level,"                      \
    " first_response_minutes, resolution_minutes,"                                                 \
    " (extract(epoch FROM expected_start_at) * 1000)::bigint,"                                     \
    " (extract(epoch FROM created_at) * 1000)::bigint,"                                            \
    " (extract(epoch FROM updated_at) * 1000)::bigint, emergency_rule_id, at_risk, at_risk_target"

/* Build a ticket from row i of a result selected with TICKET_COLUMNS. */
static ticket_t *s_from_row(const PGresult *r, int i)
{
    ticket_t *t = s_new();
    if (!t)
        return NULL;
    const char **text[] = {&t->ticket_id,
                           &t->number,
                           &t->channel,
                           NULL,
                           &t->customer_id,
                           &t->customer_name,
                           &t->customer_email,
                           &t->customer_phone,
                           &t->customer_company,
                           &t->tier,
                           &t->language,
                           &t->subject,
                           &t->description,
                           &t->message_id,
                           &t->requested_type,
                           &t->service_type,
                           &t->urgency,
                           &t->impact,
                           &t->priority,
                           NULL,
                           &t->rule_id,
                           NULL,
                           &t->team,
                           &t->assignee,
                           &t->owner};
    for (int c = 0; c < (int)(sizeof(text) / sizeof(text[0])); c++)
        if (text[c])
            ticket_set(t, text[c], cs_db_get(r, i, c));
    t->received_at_ms = cs_db_get_i64(r, i, 3);
    t->emergency_level = (int)cs_db_get_i64(r, i, 19);
    t->rules_version = (int)cs_db_get_i64(r, i, 21);
    if (ticket_status_parse(cs_db_get(r, i, 25), &t->status) < 0)
        t->status = TICKET_NEW; /* the CHECK constraint makes this unreachable */
    t->escalation_level = (int)cs_db_get_i64(r, i, 26);
    t->first_response_minutes = (int)cs_db_get_i64(r, i, 27);
    t->resolution_minutes = (int)cs_db_get_i64(r, i, 28);
    t->expected_start_ms = cs_db_get_i64(r, i, 29);
    t->created_at_ms = cs_db_get_i64(r, i, 30);
    t->updated_at_ms = cs_db_get_i64(r, i, 31);
    ticket_set(t, &t->emergency_rule_id, cs_db_get(r, i, 32));
    ticket_set(t, &t->at_risk, cs_db_get(r, i, 33));
    ticket_set(t, &t->at_risk_target, cs_db_get(r, i, 34));
    return t;
}

int ticket_load(cs_db_t *db, const char *by, const char *key, int lock, ticket_t **out)
{
    *out = NULL;
    const char *sql;
    int by_id = strcmp(by, "ticket_id") == 0;
    assert(by_id || strcmp(by, "number") == 0);
    if (by_id && !cs_is_uuid(key))
        return 0; /* not a uuid: cannot name a ticket */
    if (by_id)
        sql = lock ? "SELECT " TICKET_COLUMNS " FROM tickets WHERE ticket_id = $1 FOR UPDATE"
                   : "SELECT " TICKET_COLUMNS " FROM tickets WHERE ticket_id = $1";
    else
        sql = lock ? "SELECT " TICKET_COLUMNS " FROM tickets WHERE number = $1 FOR UPDATE"
                   : "SELECT " TICKET_COLUMNS " FROM tickets WHERE number = $1";
    PGresult *r = cs_db_exec(db, sql, 1, (const char *[]){key});
    if (!r)
        return -1;
    int rc = 0;
    if (PQntuples(r) == 1) {
        *out = s_from_row(r, 0);
        rc = *out ? 1 : -1;
    }
    PQclear(r);
    return rc;
}

int ticket_save(cs_db_t *db, const ticket_t *t)
{
    char esc[24], em[24], fr[24], rs[24], es[24];
    const char *p[] = {t->ticket_id,
                       ticket_status_name(t->status),
                       t->team,
                       t->assignee,
                       t->owner,
                       cs_db_i64(esc, t->escalation_level),
                       t->service_type,
                       t->priority,
                       cs_db_i64(em, t->emergency_level),
                       t->emergency_rule_id,
                       cs_db_i64(fr, t->first_response_minutes),
                       cs_db_i64(rs, t->resolution_minutes),
                       cs_db_i64(es, t->expected_start_ms)};
    int64_t n = cs_db_cmd(
        db,
        "UPDATE tickets SET status = $2, team = NULLIF($3, ''), assignee = NULLIF($4, ''),"
        " owner = NULLIF($5, ''), escalation_level = $6, updated_at = now(),"
        " service_type = $7, priority = $8, emergency_level = $9, emergency_rule_id = $10,"
        " first_response_minutes = $11, resolution_minutes = $12,"
        " expected_start_at = to_timestamp($13::bigint / 1000.0),"
        " at_risk = CASE WHEN $2 IN ('resolved', 'closed', 'terminated', 'reopened') THEN ''"
        "   ELSE at_risk END,"
        " at_risk_target = CASE WHEN $2 IN ('resolved', 'closed', 'terminated', 'reopened')"
        "   THEN '' ELSE at_risk_target END,"
        " first_responded_at = CASE WHEN $2 = 'in_progress'"
        "   THEN coalesce(first_responded_at, now()) ELSE first_responded_at END,"
        " resolved_at = CASE WHEN $2 = 'resolved' THEN now() ELSE resolved_at END,"
        " closed_at = CASE WHEN $2 IN ('closed', 'terminated') THEN now()"
        "   WHEN $2 = 'reopened' THEN NULL ELSE closed_at END"
        " WHERE ticket_id = $1",
        13, p);
    return n == 1 ? 0 : -1;
}

int ticket_history_add(cs_db_t *db, const ticket_t *t, const char *actor, const char *action,
                       ticket_status_t from, ticket_status_t to, const char *reason,
                       const char *message)
{
    const char *p[] = {t->ticket_id,
                       actor,
                       action,
                       ticket_status_name(from),
                       ticket_status_name(to),
                       reason ? reason : "",
                       message ? message : ""};
    return cs_db_cmd(db,
                     "INSERT INTO ticket_history (ticket_id, actor, action, from_status,"
                     " to_status, reason, message) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                     7, p) == 1
               ? 0
               : -1;
}

/* ---- events ---------------------------------------------------------------------------- */

int ticket_emit(cs_db_t *db, const ticket_t *t, const char *type, const ticket_event_t *ev)
{
    Cs__TicketFacts f = CS__TICKET_FACTS__INIT;
    f.ticket_id = (char *)t->ticket_id;
    f.number = (char *)t->number;
    f.channel = (char *)t->channel;
    f.received_at_ms = t->received_at_ms;
    f.customer_id = (char *)t->customer_id;
    f.customer_name = (char *)t->customer_name;
    f.customer_email = (char *)t->customer_email;
    f.customer_phone = (char *)t->customer_phone;
    f.tier = (char *)t->tier;
    f.language = (char *)t->language;
    f.subject = (char *)t->subject;
    f.service_type = (char *)t->service_type;
    f.priority = (char *)t->priority;
    f.emergency_level = (uint32_t)t->emergency_level;
    f.team = (char *)t->team;
    f.assignee = (char *)t->assignee;
    f.owner = (char *)t->owner;
    f.status = (char *)ticket_status_name(t->status);
    f.message_id = (char *)t->message_id;

    Cs__TicketEvent te = CS__TICKET_EVENT__INIT;
    te.facts = &f;
    te.actor = (char *)(ev->actor ? ev->actor : "system");
    te.from_status = (char *)ticket_status_name(ev->from);
    te.to_status = (char *)ticket_status_name(ev->to);
    te.reason = (char *)(ev->reason ? ev->reason : "");
    te.message = (char *)(ev->message ? ev->message : "");
    te.at_ms = cs_now_ms();
    te.first_response_minutes = (uint32_t)t->first_response_minutes;
    te.resolution_minutes = (uint32_t)t->resolution_minutes;
    te.expected_start_ms = t->expected_start_ms;
    te.rule_id = (char *)t->rule_id;
    te.escalation_level = ev->escalation_level;
    te.from_priority = (char *)(ev->from_priority ? ev->from_priority : "");
    te.from_service_type = (char *)(ev->from_service_type ? ev->from_service_type : "");
    te.to_customer = ev->to_customer != 0;
    te.escalated_to = (char *)(ev->escalated_to ? ev->escalated_to : "");

    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_TICKET_EVENT;
    env.ticket_event = &te;
    return cs_bus_emit(db, type, &env);
}

int ticket_move(cs_db_t *db, ticket_t *t, ticket_status_t to, const char *type, const char *actor,
                const char *action, const char *reason, const char *message)
{
    ticket_status_t from = t->status;
    assert(ticket_can_move(from, to));
    t->status = to;
    if (to == TICKET_RESOLVED || to == TICKET_CLOSED || to == TICKET_TERMINATED ||
        to == TICKET_REOPENED)
        t->at_risk = t->at_risk_target = ""; /* as ticket_save writes it */
    if (ticket_save(db, t) < 0 ||
        ticket_history_add(db, t, actor, action, from, to, reason, message) < 0)
        return -1;
    ticket_event_t ev = {.actor = actor,
                         .from = from,
                         .to = to,
                         .reason = reason,
                         .message = message,
                         .escalation_level = (unsigned)t->escalation_level};
    return ticket_emit(db, t, type, &ev);
}

/* ---- JSON -------------------------------------------------------------------------------- */

json_t *ticket_to_json(const ticket_t *t)
{
    json_t *customer = json_object();
    json_object_set_new(customer, "id", cs_json_str_or_null(t->customer_id));
    json_object_set_new(customer, "name", json_string(t->customer_name));
    json_object_set_new(customer, "email", json_string(t->customer_email));
    json_object_set_new(customer, "phone", json_string(t->customer_phone));
    json_object_set_new(customer, "company", json_string(t->customer_company));
    json_object_set_new(customer, "tier", json_string(t->tier));
    json_t *o = json_object();
    json_object_set_new(o, "ticket_id", json_string(t->ticket_id));
    json_object_set_new(o, "number", json_string(t->number));
    json_object_set_new(o, "status", json_string(ticket_status_name(t->status)));
    json_object_set_new(o, "channel", json_string(t->channel));
    json_object_set_new(o, "received_at", cs_json_time(t->received_at_ms));
    json_object_set_new(o, "customer", customer);
    json_object_set_new(o, "language", json_string(t->language));
    json_object_set_new(o, "subject", json_string(t->subject));
    json_object_set_new(o, "service_type", json_string(t->service_type));
    json_object_set_new(o, "priority", json_string(t->priority));
    json_object_set_new(o, "urgency", json_string(t->urgency));
    json_object_set_new(o, "impact", json_string(t->impact));
    json_object_set_new(o, "emergency_level", json_integer(t->emergency_level));
    json_object_set_new(o, "emergency_rule_id", cs_json_str_or_null(t->emergency_rule_id));
    json_object_set_new(o, "rule_id", json_string(t->rule_id));
    json_object_set_new(o, "rules_version", json_integer(t->rules_version));
    json_object_set_new(o, "team", cs_json_str_or_null(t->team));
    json_object_set_new(o, "assignee", cs_json_str_or_null(t->assignee));
    json_object_set_new(o, "owner", cs_json_str_or_null(t->owner));
    json_object_set_new(o, "escalation_level", json_integer(t->escalation_level));
    json_object_set_new(o, "at_risk", cs_json_str_or_null(t->at_risk));
    json_object_set_new(o, "at_risk_target", cs_json_str_or_null(t->at_risk_target));
    json_object_set_new(o, "first_response_minutes", json_integer(t->first_response_minutes));
    json_object_set_new(o, "resolution_minutes", json_integer(t->resolution_minutes));
    json_object_set_new(o, "expected_start_at", cs_json_time(t->expected_start_ms));
    json_object_set_new(o, "updated_at", cs_json_time(t->updated_at_ms));
    return o;
}

json_t *ticket_history_json(cs_db_t *db, const char *ticket_id)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT (extract(epoch FROM at) * 1000)::bigint, actor, action,"
                             " from_status, to_status, reason, message FROM ticket_history"
                             " WHERE ticket_id = $1 ORDER BY id",
                             1, (const char *[]){ticket_id});
    if (!r)
        return NULL;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *h = json_object();
        json_object_set_new(h, "at", cs_json_time(cs_db_get_i64(r, i, 0)));
        json_object_set_new(h, "actor", json_string(cs_db_get(r, i, 1)));
        json_object_set_new(h, "action", json_string(cs_db_get(r, i, 2)));
        json_object_set_new(h, "from", json_string(cs_db_get(r, i, 3)));
        json_object_set_new(h, "to", json_string(cs_db_get(r, i, 4)));
        json_object_set_new(h, "reason", json_string(cs_db_get(r, i, 5)));
        json_object_set_new(h, "message", json_string(cs_db_get(r, i, 6)));
        json_array_append_new(list, h);
    }
    PQclear(r);
    return list;
}

json_t *ticket_notes_json(cs_db_t *db, const char *ticket_id)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT (extract(epoch FROM at) * 1000)::bigint, author, to_customer,"
                             " text FROM ticket_notes WHERE ticket_id = $1 ORDER BY id",
                             1, (const char *[]){ticket_id});
    if (!r)
        return NULL;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *n = json_object();
        json_object_set_new(n, "at", cs_json_time(cs_db_get_i64(r, i, 0)));
        json_object_set_new(n, "author", json_string(cs_db_get(r, i, 1)));
        json_object_set_new(n, "to_customer", json_boolean(strcmp(cs_db_get(r, i, 2), "t") == 0));
        json_object_set_new(n, "text", json_string(cs_db_get(r, i, 3)));
        json_array_append_new(list, n);
    }
    PQclear(r);
    return list;
}

json_t *ticket_reports_json(cs_db_t *db, const char *ticket_id)
{
    PGresult *r = cs_db_exec(db,
                             "SELECT (extract(epoch FROM at) * 1000)::bigint, author, work_done,"
                             " parts::text, root_cause, recommendations FROM service_reports"
                             " WHERE ticket_id = $1 ORDER BY id",
                             1, (const char *[]){ticket_id});
    if (!r)
        return NULL;
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *n = json_object();
        json_t *parts = json_loads(cs_db_get(r, i, 3), 0, NULL);
        json_object_set_new(n, "at", cs_json_time(cs_db_get_i64(r, i, 0)));
        json_object_set_new(n, "author", json_string(cs_db_get(r, i, 1)));
        json_object_set_new(n, "work_done", json_string(cs_db_get(r, i, 2)));
        json_object_set_new(n, "parts", parts ? parts : json_array());
        json_object_set_new(n, "root_cause", json_string(cs_db_get(r, i, 4)));
        json_object_set_new(n, "recommendations", json_string(cs_db_get(r, i, 5)));
        json_array_append_new(list, n);
    }
    PQclear(r);
    return list;
}

/* The filter of ticket_query_json: $1..$10 as its parameters say. */
#define TICKET_QUERY_WHERE                                                                         \
    " FROM tickets WHERE ($1 = '' OR status = $1) AND ($2 = '' OR priority = $2)"                  \
    " AND ($3 = '' OR service_type = $3) AND ($4 = '' OR team = $4)"                               \
    " AND ($5 = '' OR assignee = $5) AND ($6 = '' OR assignee = $6 OR owner = $6)"                 \
    " AND (NOT $7::boolean OR status NOT IN ('closed', 'terminated'))"                             \
    " AND (NOT $8::boolean OR status IN ('new', 'accepted', 'queued'))"                            \
    " AND (NOT $9::boolean OR at_risk <> '') AND emergency_level >= $10::integer"

json_t *ticket_query_json(cs_db_t *db, const ticket_filter_t *f, int64_t limit, int64_t offset,
                          int64_t *total)
{
    char lim[24], off[24], em[24];
    const char *p[] = {f->status ? f->status : "",
                       f->priority ? f->priority : "",
                       f->service_type ? f->service_type : "",
                       f->team ? f->team : "",
                       f->assignee ? f->assignee : "",
                       f->mine ? f->mine : "",
                       f->open_only ? "t" : "f",
                       f->unassigned_only ? "t" : "f",
                       f->at_risk_only ? "t" : "f",
                       cs_db_i64(em, f->min_emergency),
                       cs_db_i64(lim, limit),
                       cs_db_i64(off, offset)};
    /* two texts rather than a pasted ORDER BY: every statement stays a constant */
    /* two texts rather than a pasted ORDER BY: every statement stays a constant */
    const char *sql =
        f->queue_order
            ? "SELECT " TICKET_COLUMNS ", count(*) OVER ()" TICKET_QUERY_WHERE
              " ORDER BY (emergency_level = 0), emergency_level, (at_risk = 'breached') DESC,"
              " priority, received_at, number LIMIT $11 OFFSET $12"
            : "SELECT " TICKET_COLUMNS ", count(*) OVER ()" TICKET_QUERY_WHERE
              " ORDER BY received_at DESC, number DESC LIMIT $11 OFFSET $12";
    PGresult *r = cs_db_exec(db, sql, 12, p);
    if (!r)
        return NULL;
    json_t *list = json_array();
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        ticket_t *t = s_from_row(r, i);
        if (t)
            json_array_append_new(list, ticket_to_json(t));
        ticket_destroy(&t);
    }
    if (total) {
        /* past the last page the window has no row to say it: count again */
        if (n > 0)
            *total = cs_db_get_i64(r, 0, 35);
        else {
            PQclear(r);
            r = cs_db_exec(db, "SELECT count(*)" TICKET_QUERY_WHERE, 10, p);
            if (!r) {
                json_decref(list);
                return NULL;
            }
            *total = cs_db_get_i64(r, 0, 0);
        }
    }
    PQclear(r);
    return list;
}

json_t *ticket_list_json(cs_db_t *db, const char *status, const char *assignee, int64_t limit,
                         int64_t offset)
{
    ticket_filter_t f = {.status = status, .assignee = assignee};
    return ticket_query_json(db, &f, limit, offset, NULL);
}
