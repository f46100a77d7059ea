/*
 * desk — see desk.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include "cs_config.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"
#include "desk.h"

#define ACCESS_PURPOSE "ticket-access"
#define ACCESS_KEY_MIN 16

static desk_config_t s_cfg;
static unsigned char s_access_key[128];
static size_t s_access_key_len;

const desk_config_t *desk_config(void)
{
    return &s_cfg;
}

static void s_b64url(const unsigned char *in, size_t len, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (i + 1 < len)
            out[o++] = tab[v >> 6 & 63];
        if (i + 2 < len)
            out[o++] = tab[v & 63];
    }
    out[o] = 0;
}

/* The access key: CS_INTAKE_ACCESS_KEY when set (at least 16 bytes), else
   a random one made by the first instance and kept in settings, so that
   tokens survive restarts and every replica signs alike. */
static int s_load_access_key(cs_db_t *db)
{
    const char *env = cs_env("CS_INTAKE_ACCESS_KEY", NULL);
    if (env) {
        if (strlen(env) < ACCESS_KEY_MIN || strlen(env) > sizeof(s_access_key)) {
            cs_error("config: CS_INTAKE_ACCESS_KEY must be %d to %zu characters", ACCESS_KEY_MIN,
                     sizeof(s_access_key));
            return -1;
        }
        s_access_key_len = strlen(env);
        memcpy(s_access_key, env, s_access_key_len);
        return 0;
    }
    unsigned char raw[32];
    char fresh[DESK_TOKEN_LEN];
    if (cs_random(raw, sizeof(raw)) < 0)
        return -1;
    s_b64url(raw, sizeof(raw), fresh);
    OPENSSL_cleanse(raw, sizeof(raw));
    const char *p[] = {fresh};
    PGresult *r = cs_db_exec(db,
                             "WITH ins AS (INSERT INTO settings (name, value)"
                             " VALUES ('ticket_access_key', $1) ON CONFLICT (name) DO NOTHING"
                             " RETURNING value)"
                             " SELECT value FROM ins UNION ALL"
                             " SELECT value FROM settings WHERE name = 'ticket_access_key'",
                             1, p);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    if (!r || PQntuples(r) < 1) {
        PQclear(r);
        cs_error("desk: the ticket access key could not be read or stored");
        return -1;
    }
    const char *v = PQgetvalue(r, 0, 0);
    s_access_key_len = strlen(v) < sizeof(s_access_key) ? strlen(v) : sizeof(s_access_key);
    memcpy(s_access_key, v, s_access_key_len);
    PQclear(r);
    return 0;
}

static int s_digits(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max || s[0] == '0')
        return 0;
    return strspn(s, "0123456789") == n;
}

int desk_init(cs_db_t *db)
{
    const char *country = cs_env("CS_INTAKE_DEFAULT_COUNTRY", "86");
    if (country[0] == '+')
        country++;
    if (!s_digits(country, 1, 3)) {
        cs_error("config: CS_INTAKE_DEFAULT_COUNTRY must be a country calling code such as 86");
        return -1;
    }
    snprintf(s_cfg.country, sizeof(s_cfg.country), "%s", country);
    const char *token = cs_env("CS_INTAKE_CTI_TOKEN", "");
    if (strlen(token) >= sizeof(s_cfg.cti_token)) {
        cs_error("config: CS_INTAKE_CTI_TOKEN is longer than %zu characters",
                 sizeof(s_cfg.cti_token) - 1);
        return -1;
    }
    if (*token && strlen(token) < 16) {
        cs_error("config: CS_INTAKE_CTI_TOKEN must be at least 16 characters");
        return -1;
    }
    snprintf(s_cfg.cti_token, sizeof(s_cfg.cti_token), "%s", token);
    if (!*token)
        cs_warn("cti: CS_INTAKE_CTI_TOKEN is not set: /v1/cti/* answers 503 until it is");
    snprintf(s_cfg.personal_roles, sizeof(s_cfg.personal_roles), "%s",
             cs_env("CS_INTAKE_PERSONAL_ROLES", "agent,team_lead,supervisor,privacy_officer"));
    snprintf(s_cfg.merge_roles, sizeof(s_cfg.merge_roles), "%s",
             cs_env("CS_INTAKE_MERGE_ROLES", "team_lead,supervisor"));
    return s_load_access_key(db);
}

/* Compare the SHA-256 digests: equal length, so CRYPTO_memcmp's time tells
   nothing about either string, not even its length. */
int desk_equal(const char *a, const char *b)
{
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a, strlen(a), da);
    SHA256((const unsigned char *)b, strlen(b), db);
    return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

void desk_ticket_token(const char *number, char *out)
{
    unsigned char msg[sizeof(ACCESS_PURPOSE) + 64], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t n = strnlen(number, 64);
    memcpy(msg, ACCESS_PURPOSE, sizeof(ACCESS_PURPOSE)); /* with its NUL */
    memcpy(msg + sizeof(ACCESS_PURPOSE), number, n);
    if (!HMAC(EVP_sha256(), s_access_key, (int)s_access_key_len, msg, sizeof(ACCESS_PURPOSE) + n,
              mac, &maclen) ||
        maclen != 32) {
        out[0] = 0; /* never equal to a token a client sends (those are checked non-empty) */
        return;
    }
    s_b64url(mac, 32, out);
}

int desk_ticket_token_ok(const char *number, const char *token)
{
    char want[DESK_TOKEN_LEN];
    if (!token || !*token || strlen(token) > 128)
        return 0;
    desk_ticket_token(number, want);
    int ok = want[0] && desk_equal(want, token);
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

int desk_role_in(const char *role, const char *list)
{
    size_t n = role ? strlen(role) : 0;
    if (!n)
        return 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, role, n) == 0)
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

/* A header naming a login or role: 1..64 of [A-Za-z0-9._@-]. */
static int s_token_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") == n;
}

int desk_viewer(cs_http_req_t *req, cs_http_resp_t *resp, const char *reason_dflt, desk_viewer_t *v)
{
    memset(v, 0, sizeof(*v));
    v->actor = cs_http_header(req, "X-CS-Actor");
    v->role = cs_http_header(req, "X-CS-Role");
    v->reason = cs_http_query(req, "reason");
    if (v->actor && !s_token_ok(v->actor)) {
        cs_http_error(resp, 422, "X-CS-Actor",
                      "X-CS-Actor must be a login of 1 to 64 letters,"
                      " digits, '.', '_', '@' or '-'");
        return -1;
    }
    if (v->role && !s_token_ok(v->role)) {
        cs_http_error(resp, 422, "X-CS-Role", "X-CS-Role must be a role name such as agent");
        return -1;
    }
    if (v->reason) {
        size_t n = strlen(v->reason);
        const char *p = v->reason;
        while (*p == ' ')
            p++;
        if (!*p || n > DESK_REASON_MAX) {
            cs_http_error(resp, 422, "reason", "reason must be 1 to %d characters",
                          DESK_REASON_MAX);
            return -1;
        }
        for (p = v->reason; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                cs_http_error(resp, 422, "reason", "reason must not hold control characters");
                return -1;
            }
    } else {
        v->reason = reason_dflt;
    }
    if (!v->role || !desk_role_in(v->role, s_cfg.personal_roles))
        snprintf(v->withheld, sizeof(v->withheld), "withheld: role %s may not read personal fields",
                 v->role ? v->role : "(none: X-CS-Role is not set)");
    else if (!v->actor)
        snprintf(v->withheld, sizeof(v->withheld), "withheld: X-CS-Actor is not set");
    else if (!v->reason)
        snprintf(v->withheld, sizeof(v->withheld),
                 "withheld: give ?reason= to read them (the read is recorded)");
    else
        v->personal = 1;
    return 0;
}

int desk_audit(cs_db_t *db, cs_http_req_t *req, const desk_viewer_t *v, const char *customer_id,
               const char *route)
{
    if (!v->personal)
        return 0;
    const char *p[] = {v->actor, v->role, customer_id, route, v->reason, req->client_ip};
    return cs_db_cmd(db,
                     "INSERT INTO personal_reads (actor, role, customer_id, route, reason,"
                     " client_ip) VALUES ($1, $2, $3, $4, $5, $6)",
                     6, p) == 1
               ? 0
               : -1;
}

void desk_mark(json_t *o, const desk_viewer_t *v)
{
    json_object_set_new(o, "personal_fields", json_string(v->personal ? "shown" : v->withheld));
}

json_t *desk_personal(const desk_viewer_t *v, const PGresult *r, int row, int col)
{
    return v->personal ? cs_json_col(r, row, col) : json_null();
}

const char *desk_ledger_channel(const char *ticket_channel)
{
    if (strcmp(ticket_channel, "email") == 0)
        return "mail";
    if (strcmp(ticket_channel, "onsite") == 0)
        return "visit";
    if (strcmp(ticket_channel, "phone") == 0)
        return "call";
    return ticket_channel; /* web, app, partner */
}
