/*
 * registry — see registry.h. Every change is one transaction with its
 * intake.customer.upserted event; every read that shows personal fields is
 * recorded in the same request before the answer leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cs_bus.h"
#include "cs_ids.h"
#include "cs_json.h"
#include "cs_log.h"
#include "desk.h"
#include "fields.h"
#include "registry.h"

#define ORG_MAX 200
#define NAME_MAX_ 200
#define TITLE_MAX 100
#define REGION_MAX 64
#define ADDRESS_MAX 500
#define CONTACTS_MAX 50
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* ---- the event ------------------------------------------------------------------ */

int registry_emit(cs_db_t *db, const char *id)
{
    const char *p[] = {id};
    PGresult *r = cs_db_exec(db,
                             "SELECT c.id, coalesce(k.name, c.name), coalesce(k.email, c.email),"
                             " coalesce(k.phone, c.phone), c.company, c.industry, c.tier,"
                             " c.language, c.region, c.merged_into"
                             " FROM customers c LEFT JOIN LATERAL (SELECT name, email, phone"
                             " FROM contacts WHERE customer_id = c.id"
                             " ORDER BY is_primary DESC, created_at LIMIT 1) k ON true"
                             " WHERE c.id = $1",
                             1, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    Cs__Customer c = CS__CUSTOMER__INIT;
    c.customer_id = (char *)cs_db_get(r, 0, 0);
    c.name = (char *)cs_db_get(r, 0, 1);
    c.email = (char *)cs_db_get(r, 0, 2);
    c.phone = (char *)cs_db_get(r, 0, 3);
    c.company = (char *)cs_db_get(r, 0, 4);
    c.industry = (char *)cs_db_get(r, 0, 5);
    c.tier = (char *)cs_db_get(r, 0, 6);
    c.language = (char *)cs_db_get(r, 0, 7);
    c.region = (char *)cs_db_get(r, 0, 8);
    c.merged_into = (char *)cs_db_get(r, 0, 9);
    Cs__CustomerUpserted up = CS__CUSTOMER_UPSERTED__INIT;
    up.customer = &c;
    Cs__Envelope env = CS__ENVELOPE__INIT;
    env.body_case = CS__ENVELOPE__BODY_CUSTOMER_UPSERTED;
    env.customer_upserted = &up;
    int rc = cs_bus_emit(db, "intake.customer.upserted", &env);
    PQclear(r);
    return rc;
}

/* ---- answers ---------------------------------------------------------------------- */

/* The customer as JSON (contacts included), or NULL with *status 404 / 301
   (merged: *merged_into filled) / 503. */
static json_t *s_customer_json(cs_db_t *db, const char *id, const desk_viewer_t *v, int *status,
                               char *merged_into)
{
    const char *p[] = {id};
    PGresult *r = cs_db_exec(
        db,
        "SELECT id, company, industry, tier, region, language, address,"
        " merged_into, " TS("created_at") ", " TS("updated_at") ", updated_by"
                                                                " FROM customers WHERE id = $1",
        1, p);
    if (!r) {
        *status = 503;
        return NULL;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        *status = 404;
        return NULL;
    }
    if (!PQgetisnull(r, 0, 7)) {
        snprintf(merged_into, CS_UUID_LEN, "%s", PQgetvalue(r, 0, 7));
        PQclear(r);
        *status = 301;
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", cs_json_col(r, 0, 0));
    json_object_set_new(o, "organisation", cs_json_col(r, 0, 1));
    json_object_set_new(o, "industry", cs_json_col(r, 0, 2));
    json_object_set_new(o, "tier", cs_json_col(r, 0, 3));
    json_object_set_new(o, "region", cs_json_col(r, 0, 4));
    json_object_set_new(o, "language", cs_json_col(r, 0, 5));
    json_object_set_new(o, "address", desk_personal(v, r, 0, 6));
    json_object_set_new(o, "created_at", cs_json_col(r, 0, 8));
    json_object_set_new(o, "updated_at", cs_json_col(r, 0, 9));
    json_object_set_new(o, "updated_by", cs_json_col(r, 0, 10));
    PQclear(r);
    r = cs_db_exec(db,
                   "SELECT id, name, email, phone, phone_ext, title, language, is_primary"
                   " FROM contacts WHERE customer_id = $1 ORDER BY is_primary DESC, created_at, id",
                   1, p);
    if (!r) {
        json_decref(o);
        *status = 503;
        return NULL;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *k = json_object();
        json_object_set_new(k, "id", cs_json_col(r, i, 0));
        json_object_set_new(k, "name", desk_personal(v, r, i, 1));
        json_object_set_new(k, "email", desk_personal(v, r, i, 2));
        json_object_set_new(k, "phone", desk_personal(v, r, i, 3));
        json_object_set_new(k, "phone_ext", desk_personal(v, r, i, 4));
        json_object_set_new(k, "title", cs_json_col(r, i, 5));
        json_object_set_new(k, "language", cs_json_col(r, i, 6));
        json_object_set_new(k, "primary", json_boolean(strcmp(cs_db_get(r, i, 7), "t") == 0));
        json_array_append_new(arr, k);
    }
    PQclear(r);
    json_object_set_new(o, "contacts", arr);
    desk_mark(o, v);
    *status = 200;
    return o;
}

/* Answer with customer id (after a write, or a read), recording the read. */
static void s_answer(cs_http_req_t *req, cs_http_resp_t *resp, const char *id,
                     const desk_viewer_t *v, int ok_status, const char *route)
{
    int status;
    char merged[CS_UUID_LEN] = "";
    json_t *o = s_customer_json(req->db, id, v, &status, merged);
    if (status == 301) {
        snprintf(resp->location, sizeof(resp->location), "/v1/customers/%s", merged);
        json_t *m = json_object();
        json_object_set_new(m, "id", json_string(id));
        json_object_set_new(m, "merged_into", json_string(merged));
        cs_http_json(resp, 301, m);
        return;
    }
    if (!o) {
        if (status == 404)
            cs_http_error(resp, 404, "id", "no customer %s", id);
        else
            cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    if (desk_audit(req->db, req, v, id, route) < 0) {
        json_decref(o);
        cs_http_error(resp, 503, NULL, "the read could not be recorded; nothing is shown");
        return;
    }
    cs_http_json(resp, ok_status, o);
}

/* ---- who may write ------------------------------------------------------------------ */

static int s_writer(cs_http_req_t *req, cs_http_resp_t *resp, desk_viewer_t *v, const char *roles)
{
    if (desk_viewer(req, resp, NULL, v) < 0)
        return -1;
    if (!v->role || !desk_role_in(v->role, roles)) {
        cs_http_error(resp, 403, "X-CS-Role", "role %s may not do this (roles: %s)",
                      v->role ? v->role : "(none)", roles);
        return -1;
    }
    if (!v->actor) {
        cs_http_error(resp, 403, "X-CS-Actor", "X-CS-Actor is required: who makes the change");
        return -1;
    }
    return 0;
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct {
    const char *name, *email, *title, *language;
    char e164[PHONE_E164_MAX], ext[PHONE_EXT_MAX];
    int has_phone;
    int clear_email, clear_phone, clear_title; /* explicit null in a PATCH */
    int primary;                               /* -1 not given */
} contact_in_t;

static int s_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v && json_is_null(v);
}

static int s_contact_parse(json_t *c, int index, int partial, contact_in_t *k, cs_http_resp_t *resp)
{
    static const char *const allowed[] = {"name",     "email",   "phone", "title",
                                          "language", "primary", NULL};
    char pre[32], f_name[48], f_email[48], f_phone[48], f_title[48], f_lang[48], f_prim[48];
    if (index >= 0)
        snprintf(pre, sizeof(pre), "contacts[%d].", index);
    else
        pre[0] = 0;
    snprintf(f_name, sizeof(f_name), "%sname", pre);
    snprintf(f_email, sizeof(f_email), "%semail", pre);
    snprintf(f_phone, sizeof(f_phone), "%sphone", pre);
    snprintf(f_title, sizeof(f_title), "%stitle", pre);
    snprintf(f_lang, sizeof(f_lang), "%slanguage", pre);
    snprintf(f_prim, sizeof(f_prim), "%sprimary", pre);
    memset(k, 0, sizeof(*k));
    k->primary = -1;
    if (!json_is_object(c)) {
        cs_http_error(resp, 422, index >= 0 ? "contacts" : NULL, "%s must be an object",
                      index >= 0 ? "each contact" : "the body");
        return -1;
    }
    const char *phone = NULL;
    if (fields_only(c, allowed, pre, resp) < 0 ||
        fields_str(c, "name", f_name, NAME_MAX_, NULL, !partial, &k->name, resp) < 0 ||
        fields_str(c, "email", f_email, 254, NULL, 0, &k->email, resp) < 0 ||
        fields_str(c, "phone", f_phone, 64, NULL, 0, &phone, resp) < 0 ||
        fields_str(c, "title", f_title, TITLE_MAX, NULL, 0, &k->title, resp) < 0 ||
        fields_str(c, "language", f_lang, 8, fields_languages, 0, &k->language, resp) < 0)
        return -1;
    if (partial && s_null(c, "name")) {
        cs_http_error(resp, 422, f_name, "%s cannot be removed", f_name);
        return -1;
    }
    if (k->email && !fields_email_ok(k->email)) {
        cs_http_error(resp, 422, f_email, "%s is not an e-mail address", f_email);
        return -1;
    }
    if (phone) {
        if (fields_phone(phone, f_phone, k->e164, k->ext, resp) < 0)
            return -1;
        k->has_phone = 1;
    }
    json_t *prim = json_object_get(c, "primary");
    if (prim && !json_is_null(prim)) {
        if (!json_is_boolean(prim)) {
            cs_http_error(resp, 422, f_prim, "%s must be true or false", f_prim);
            return -1;
        }
        k->primary = json_is_true(prim);
    }
    k->clear_email = s_null(c, "email");
    k->clear_phone = s_null(c, "phone");
    k->clear_title = s_null(c, "title");
    return 0;
}

typedef struct {
    const char *organisation, *industry, *tier, *region, *language, *address;
    int clear_region, clear_address;
} customer_in_t;

static int s_customer_parse(json_t *b, int partial, customer_in_t *c, cs_http_resp_t *resp)
{
    static const char *const allowed_post[] = {"organisation", "industry", "tier",     "region",
                                               "language",     "address",  "contacts", NULL};
    memset(c, 0, sizeof(*c));
    if (fields_only(b, allowed_post, "", resp) < 0)
        return -1;
    if (partial && json_object_get(b, "contacts")) {
        cs_http_error(resp, 422, "contacts",
                      "contacts are changed through /v1/customers/{id}/contacts");
        return -1;
    }
    if (fields_str(b, "organisation", "organisation", ORG_MAX, NULL, !partial, &c->organisation,
                   resp) < 0 ||
        fields_str(b, "industry", "industry", 32, fields_industries, 0, &c->industry, resp) < 0 ||
        fields_str(b, "tier", "tier", 16, fields_tiers, 0, &c->tier, resp) < 0 ||
        fields_str(b, "region", "region", REGION_MAX, NULL, 0, &c->region, resp) < 0 ||
        fields_str(b, "language", "language", 8, fields_languages, 0, &c->language, resp) < 0 ||
        fields_str(b, "address", "address", ADDRESS_MAX, NULL, 0, &c->address, resp) < 0)
        return -1;
    static const char *const required[] = {"organisation", "industry", "tier", "language", NULL};
    for (int i = 0; partial && required[i]; i++)
        if (s_null(b, required[i])) {
            cs_http_error(resp, 422, required[i], "%s cannot be removed", required[i]);
            return -1;
        }
    c->clear_region = s_null(b, "region");
    c->clear_address = s_null(b, "address");
    return 0;
}

/* An e-mail address already a contact of another customer: 409 naming the
   field and that customer (a duplicate to merge, not a second record). */
static int s_email_free(cs_db_t *db, const char *email, const char *customer_id, const char *field,
                        cs_http_resp_t *resp)
{
    const char *p[] = {email, customer_id};
    PGresult *r = cs_db_exec(db,
                             "SELECT customer_id FROM contacts WHERE lower(email) = lower($1)"
                             " AND ($2::uuid IS NULL OR customer_id <> $2::uuid) LIMIT 1",
                             2, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return -1;
    }
    if (PQntuples(r) == 1) {
        cs_http_error(resp, 409, field,
                      "%s is already a contact of customer %s; merge the two records"
                      " (POST /v1/customers/{id}/merge) instead of a second one",
                      field, PQgetvalue(r, 0, 0));
        PQclear(r);
        return -1;
    }
    PQclear(r);
    return 0;
}

static int s_contact_insert(cs_db_t *db, const char *customer_id, const contact_in_t *k,
                            int primary, const char *dflt_language, char *id_out)
{
    cs_uuid(id_out);
    const char *p[] = {id_out,
                       customer_id,
                       k->name,
                       k->email,
                       k->has_phone ? k->e164 : NULL,
                       k->has_phone && k->ext[0] ? k->ext : NULL,
                       k->title,
                       k->language ? k->language : dflt_language,
                       primary ? "t" : "f"};
    return cs_db_cmd(db,
                     "INSERT INTO contacts (id, customer_id, name, email, phone, phone_ext, title,"
                     " language, is_primary) VALUES ($1, $2, $3, lower($4), $5, $6, $7, $8, $9)",
                     9, p) == 1
               ? 0
               : -1;
}

/* The customer row keeps a copy of its primary contact (older readers and
   the mail gateway's e-mail match use it). */
static int s_sync_primary(cs_db_t *db, const char *customer_id, const char *actor)
{
    const char *p[] = {customer_id, actor};
    return cs_db_cmd(db,
                     "UPDATE customers c SET name = k.name,"
                     " email = CASE WHEN k.email IS NULL OR EXISTS (SELECT 1 FROM customers o"
                     "   WHERE o.id <> c.id AND lower(o.email) = k.email) THEN c.email"
                     "   ELSE k.email END,"
                     " phone = coalesce(k.phone, c.phone), updated_at = now(), updated_by = $2"
                     " FROM (SELECT name, email, phone FROM contacts WHERE customer_id = $1"
                     "       ORDER BY is_primary DESC, created_at LIMIT 1) k"
                     " WHERE c.id = $1",
                     2, p) >= 0
               ? 0
               : -1;
}

static void s_db_failed(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_db_rollback(req->db);
    cs_http_error(resp, 503, NULL, "the change could not be stored; try again");
}

/* ---- routes ---------------------------------------------------------------------------- */

/* POST /v1/customers */
static void s_create(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    desk_viewer_t v;
    if (s_writer(req, resp, &v, desk_config()->personal_roles) < 0)
        return;
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    customer_in_t c;
    contact_in_t ks[CONTACTS_MAX];
    size_t nk = 0;
    int primary = -1;
    if (s_customer_parse(b, 0, &c, resp) < 0)
        goto out;
    json_t *contacts = json_object_get(b, "contacts");
    if (contacts && !json_is_null(contacts)) {
        if (!json_is_array(contacts) || json_array_size(contacts) > CONTACTS_MAX) {
            cs_http_error(resp, 422, "contacts", "contacts must be a list of at most %d",
                          CONTACTS_MAX);
            goto out;
        }
        nk = json_array_size(contacts);
    }
    for (size_t i = 0; i < nk; i++) {
        if (s_contact_parse(json_array_get(contacts, i), (int)i, 0, &ks[i], resp) < 0)
            goto out;
        if (ks[i].primary == 1) {
            if (primary >= 0) {
                cs_http_error(resp, 422, "contacts", "only one contact can be primary");
                goto out;
            }
            primary = (int)i;
        }
        for (size_t j = 0; j < i && ks[i].email; j++)
            if (ks[j].email && strcasecmp(ks[j].email, ks[i].email) == 0) {
                cs_http_error(resp, 422, "contacts",
                              "contacts[%zu] and contacts[%zu] share an"
                              " e-mail address",
                              j, i);
                goto out;
            }
    }
    if (primary < 0 && nk > 0)
        primary = 0;
    for (size_t i = 0; i < nk; i++) {
        char field[48];
        snprintf(field, sizeof(field), "contacts[%zu].email", i);
        if (ks[i].email && s_email_free(req->db, ks[i].email, NULL, field, resp) < 0)
            goto out;
    }

    char id[CS_UUID_LEN];
    cs_uuid(id);
    const char *language = c.language ? c.language : "zh-CN";
    const char *p[] = {id,
                       nk ? ks[primary].name : c.organisation,
                       c.organisation,
                       c.industry,
                       c.tier,
                       c.region,
                       language,
                       c.address,
                       v.actor};
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable, try again");
        goto out;
    }
    if (cs_db_cmd(req->db,
                  "INSERT INTO customers (id, name, company, industry, tier, region, language,"
                  " address, updated_by) VALUES ($1, $2, $3, coalesce($4, 'other'),"
                  " coalesce($5, 'sme'), $6, $7, $8, $9)",
                  9, p) != 1) {
        s_db_failed(req, resp);
        goto out;
    }
    for (size_t i = 0; i < nk; i++) {
        char kid[CS_UUID_LEN];
        if (s_contact_insert(req->db, id, &ks[i], (int)i == primary, language, kid) < 0) {
            s_db_failed(req, resp);
            goto out;
        }
    }
    if ((nk && s_sync_primary(req->db, id, v.actor) < 0) || registry_emit(req->db, id) < 0 ||
        cs_db_commit(req->db) < 0) {
        s_db_failed(req, resp);
        goto out;
    }
    cs_service_kick(svc);
    cs_info("registry: customer %s created by %s", id, v.actor);
    snprintf(resp->location, sizeof(resp->location), "/v1/customers/%s", id);
    s_answer(req, resp, id, &v, 201, "POST /v1/customers");
out:
    json_decref(b);
}

/* GET /v1/customers/{id}?reason= */
static void s_get(cs_http_req_t *req, cs_http_resp_t *resp)
{
    desk_viewer_t v;
    if (!cs_is_uuid(req->param[0])) {
        cs_http_error(resp, 404, "id", "no customer %.40s", req->param[0]);
        return;
    }
    if (desk_viewer(req, resp, NULL, &v) < 0)
        return;
    s_answer(req, resp, req->param[0], &v, 200, "GET /v1/customers/*");
}

/* GET /v1/customers?q=&email=&phone=&tier=&industry=&region=&limit=&offset= */
static void s_list(cs_http_req_t *req, cs_http_resp_t *resp)
{
    desk_viewer_t v;
    int64_t limit, offset;
    const char *q = cs_http_query(req, "q"), *email = cs_http_query(req, "email"),
               *phone = cs_http_query(req, "phone"), *tier = cs_http_query(req, "tier"),
               *industry = cs_http_query(req, "industry"), *region = cs_http_query(req, "region");
    char e164[PHONE_E164_MAX], ext[PHONE_EXT_MAX];
    if (desk_viewer(req, resp, NULL, &v) < 0 ||
        cs_http_query_int(req, resp, "limit", 50, 1, 500, &limit) < 0 ||
        cs_http_query_int(req, resp, "offset", 0, 0, 1000000000, &offset) < 0)
        return;
    if (q && (strlen(q) < 1 || strlen(q) > 200)) {
        cs_http_error(resp, 422, "q", "q must be 1 to 200 characters");
        return;
    }
    if (tier && !fields_in(tier, fields_tiers)) {
        cs_http_error(resp, 422, "tier", "tier must be one of: strategic, large, sme");
        return;
    }
    if (industry && !fields_in(industry, fields_industries)) {
        cs_http_error(resp, 422, "industry", "industry is not an industry category");
        return;
    }
    if (email && !fields_email_ok(email)) {
        cs_http_error(resp, 422, "email", "email is not an e-mail address");
        return;
    }
    if (region && strlen(region) > REGION_MAX) {
        cs_http_error(resp, 422, "region", "region is longer than %d bytes", REGION_MAX);
        return;
    }
    if (phone && fields_phone(phone, "phone", e164, ext, resp) < 0)
        return;
    char lb[24], ob[24];
    const char *p[] = {q,        email,  phone ? e164 : NULL,  tier,
                       industry, region, cs_db_i64(lb, limit), cs_db_i64(ob, offset)};
    PGresult *r = cs_db_exec(
        req->db,
        "SELECT c.id, c.company, c.industry, c.tier, c.region, c.language, k.name, k.email,"
        " k.phone, (SELECT count(*) FROM contacts x WHERE x.customer_id = c.id)"
        " FROM customers c LEFT JOIN LATERAL (SELECT name, email, phone FROM contacts"
        "   WHERE customer_id = c.id ORDER BY is_primary DESC, created_at LIMIT 1) k ON true"
        " WHERE c.merged_into IS NULL"
        " AND ($1::text IS NULL OR c.company ILIKE '%' || replace(replace(replace($1, '\\', "
        "'\\\\'),"
        "      '%', '\\%'), '_', '\\_') || '%')"
        " AND ($2::text IS NULL OR c.id IN (SELECT customer_id FROM contacts"
        "      WHERE lower(email) = lower($2)))"
        " AND ($3::text IS NULL OR c.id IN (SELECT customer_id FROM contacts WHERE phone = $3))"
        " AND ($4::text IS NULL OR c.tier = $4) AND ($5::text IS NULL OR c.industry = $5)"
        " AND ($6::text IS NULL OR c.region = $6)"
        " ORDER BY c.company NULLS LAST, c.id LIMIT $7 OFFSET $8",
        8, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return;
    }
    json_t *arr = json_array();
    json_t *ids = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *c = json_object();
        json_object_set_new(c, "id", cs_json_col(r, i, 0));
        json_object_set_new(c, "organisation", cs_json_col(r, i, 1));
        json_object_set_new(c, "industry", cs_json_col(r, i, 2));
        json_object_set_new(c, "tier", cs_json_col(r, i, 3));
        json_object_set_new(c, "region", cs_json_col(r, i, 4));
        json_object_set_new(c, "language", cs_json_col(r, i, 5));
        json_t *pc = json_object();
        json_object_set_new(pc, "name", desk_personal(&v, r, i, 6));
        json_object_set_new(pc, "email", desk_personal(&v, r, i, 7));
        json_object_set_new(pc, "phone", desk_personal(&v, r, i, 8));
        json_object_set_new(c, "primary_contact", pc);
        json_object_set_new(c, "contacts", json_integer(cs_db_get_i64(r, i, 9)));
        json_array_append_new(arr, c);
        json_array_append_new(ids, cs_json_col(r, i, 0));
    }
    PQclear(r);
    if (v.personal && json_array_size(ids) > 0) {
        char *idlist = json_dumps(ids, JSON_COMPACT);
        const char *a[] = {v.actor, v.role, idlist, "GET /v1/customers", v.reason, req->client_ip};
        int64_t n = idlist ? cs_db_cmd(req->db,
                                       "INSERT INTO personal_reads (actor, role, customer_id,"
                                       " route, reason, client_ip) SELECT $1, $2, x::uuid, $4,"
                                       " $5, $6 FROM json_array_elements_text($3::json) x",
                                       6, a)
                           : -1;
        free(idlist);
        if (n < 0) {
            json_decref(arr);
            json_decref(ids);
            cs_http_error(resp, 503, NULL, "the read could not be recorded; nothing is shown");
            return;
        }
    }
    json_decref(ids);
    json_t *o = json_object();
    json_object_set_new(o, "offset", json_integer(offset));
    json_object_set_new(o, "customers", arr);
    desk_mark(o, &v);
    cs_http_json(resp, 200, o);
}

/* Lock a live customer for a change: 0, or -1 with 404 / 409 (merged) in resp. */
static int s_lock_live(cs_http_req_t *req, cs_http_resp_t *resp, const char *id)
{
    if (!cs_is_uuid(id)) {
        cs_http_error(resp, 404, "id", "no customer %.40s", id);
        return -1;
    }
    const char *p[] = {id};
    PGresult *r =
        cs_db_exec(req->db, "SELECT merged_into FROM customers WHERE id = $1 FOR UPDATE", 1, p);
    if (!r) {
        cs_http_error(resp, 503, NULL, "database error");
        return -1;
    }
    int rc = 0;
    if (PQntuples(r) != 1) {
        cs_http_error(resp, 404, "id", "no customer %s", id);
        rc = -1;
    } else if (!PQgetisnull(r, 0, 0)) {
        cs_http_error(resp, 409, "id", "customer %s was merged into %s; change that one", id,
                      PQgetvalue(r, 0, 0));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

/* PATCH /v1/customers/{id} */
static void s_patch(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    const char *id = req->param[0];
    desk_viewer_t v;
    customer_in_t c;
    if (s_writer(req, resp, &v, desk_config()->personal_roles) < 0)
        return;
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    if (s_customer_parse(b, 1, &c, resp) < 0)
        goto out;
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable, try again");
        goto out;
    }
    if (s_lock_live(req, resp, id) < 0) {
        cs_db_rollback(req->db);
        goto out;
    }
    const char *p[] = {id,
                       c.organisation,
                       c.industry,
                       c.tier,
                       c.region,
                       c.language,
                       c.address,
                       c.clear_region ? "t" : "f",
                       c.clear_address ? "t" : "f",
                       v.actor};
    if (cs_db_cmd(req->db,
                  "UPDATE customers SET company = coalesce($2, company),"
                  " industry = coalesce($3, industry), tier = coalesce($4, tier),"
                  " region = CASE WHEN $8::boolean THEN NULL ELSE coalesce($5, region) END,"
                  " language = coalesce($6, language),"
                  " address = CASE WHEN $9::boolean THEN NULL ELSE coalesce($7, address) END,"
                  " updated_at = now(), updated_by = $10 WHERE id = $1",
                  10, p) != 1 ||
        registry_emit(req->db, id) < 0 || cs_db_commit(req->db) < 0) {
        s_db_failed(req, resp);
        goto out;
    }
    cs_service_kick(svc);
    cs_info("registry: customer %s changed by %s", id, v.actor);
    s_answer(req, resp, id, &v, 200, "PATCH /v1/customers/*");
out:
    json_decref(b);
}

/* POST /v1/customers/{id}/contacts */
static void s_add_contact(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    const char *id = req->param[0];
    desk_viewer_t v;
    contact_in_t k;
    if (s_writer(req, resp, &v, desk_config()->personal_roles) < 0)
        return;
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    if (s_contact_parse(b, -1, 0, &k, resp) < 0)
        goto out;
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable, try again");
        goto out;
    }
    if (s_lock_live(req, resp, id) < 0 ||
        (k.email && s_email_free(req->db, k.email, id, "email", resp) < 0)) {
        cs_db_rollback(req->db);
        goto out;
    }
    const char *p[] = {id};
    if (k.primary == 1 &&
        cs_db_cmd(req->db, "UPDATE contacts SET is_primary = false WHERE customer_id = $1", 1, p) <
            0) {
        s_db_failed(req, resp);
        goto out;
    }
    PGresult *r = cs_db_exec(req->db,
                             "SELECT language, NOT EXISTS (SELECT 1 FROM contacts"
                             " WHERE customer_id = $1) FROM customers WHERE id = $1",
                             1, p);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        s_db_failed(req, resp);
        goto out;
    }
    char lang[16], kid[CS_UUID_LEN];
    snprintf(lang, sizeof(lang), "%s", PQgetvalue(r, 0, 0));
    int first = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    if (s_contact_insert(req->db, id, &k, k.primary == 1 || first, lang, kid) < 0 ||
        s_sync_primary(req->db, id, v.actor) < 0 || registry_emit(req->db, id) < 0 ||
        cs_db_commit(req->db) < 0) {
        s_db_failed(req, resp);
        goto out;
    }
    cs_service_kick(svc);
    cs_info("registry: contact %s added to customer %s by %s", kid, id, v.actor);
    s_answer(req, resp, id, &v, 201, "POST /v1/customers/*/contacts");
out:
    json_decref(b);
}

/* PATCH /v1/customers/{id}/contacts/{cid} */
static void s_patch_contact(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    const char *id = req->param[0], *cid = req->param[1];
    desk_viewer_t v;
    contact_in_t k;
    if (s_writer(req, resp, &v, desk_config()->personal_roles) < 0)
        return;
    if (!cs_is_uuid(cid)) {
        cs_http_error(resp, 404, "contact", "no contact %.40s", cid);
        return;
    }
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    if (s_contact_parse(b, -1, 1, &k, resp) < 0)
        goto out;
    if (k.primary == 0) {
        cs_http_error(resp, 422, "primary",
                      "make another contact primary instead of unsetting this one");
        goto out;
    }
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable, try again");
        goto out;
    }
    if (s_lock_live(req, resp, id) < 0 ||
        (k.email && s_email_free(req->db, k.email, id, "email", resp) < 0)) {
        cs_db_rollback(req->db);
        goto out;
    }
    const char *q[] = {id};
    if (k.primary == 1 &&
        cs_db_cmd(req->db, "UPDATE contacts SET is_primary = false WHERE customer_id = $1", 1, q) <
            0) {
        s_db_failed(req, resp);
        goto out;
    }
    const char *p[] = {cid,
                       id,
                       k.name,
                       k.email,
                       k.has_phone ? k.e164 : NULL,
                       k.has_phone ? k.ext : NULL,
                       k.title,
                       k.language,
                       k.primary == 1 ? "t" : "f",
                       k.clear_email ? "t" : "f",
                       k.clear_phone ? "t" : "f",
                       k.clear_title ? "t" : "f"};
    int64_t n =
        cs_db_cmd(req->db,
                  "UPDATE contacts SET name = coalesce($3, name),"
                  " email = CASE WHEN $10::boolean THEN NULL ELSE coalesce(lower($4), email) END,"
                  " phone = CASE WHEN $11::boolean THEN NULL ELSE coalesce($5, phone) END,"
                  " phone_ext = CASE WHEN $11::boolean THEN NULL WHEN $5::text IS NOT NULL"
                  "   THEN nullif($6, '') ELSE phone_ext END,"
                  " title = CASE WHEN $12::boolean THEN NULL ELSE coalesce($7, title) END,"
                  " language = coalesce($8, language), is_primary = is_primary OR $9::boolean,"
                  " updated_at = now() WHERE id = $1 AND customer_id = $2",
                  12, p);
    if (n == 0) {
        cs_db_rollback(req->db);
        cs_http_error(resp, 404, "contact", "customer %s has no contact %s", id, cid);
        goto out;
    }
    if (n < 0 || s_sync_primary(req->db, id, v.actor) < 0 || registry_emit(req->db, id) < 0 ||
        cs_db_commit(req->db) < 0) {
        s_db_failed(req, resp);
        goto out;
    }
    cs_service_kick(svc);
    cs_info("registry: contact %s of customer %s changed by %s", cid, id, v.actor);
    s_answer(req, resp, id, &v, 200, "PATCH /v1/customers/*/contacts/*");
out:
    json_decref(b);
}

/* POST /v1/customers/{id}/merge {"duplicate": id, "reason": "..."}: the
   duplicate's contacts, tickets, calls and ledger entries move to id; the
   duplicate stays as a redirect (GET answers 301 to id). */
static void s_merge(cs_http_req_t *req, cs_http_resp_t *resp)
{
    cs_service_t *svc = req->ctx;
    const char *id = req->param[0];
    desk_viewer_t v;
    const char *dup = NULL, *reason = NULL;
    if (s_writer(req, resp, &v, desk_config()->merge_roles) < 0)
        return;
    json_t *b = cs_http_json_body(req, resp);
    if (!b)
        return;
    static const char *const allowed[] = {"duplicate", "reason", NULL};
    if (fields_only(b, allowed, "", resp) < 0 ||
        fields_str(b, "duplicate", "duplicate", 36, NULL, 1, &dup, resp) < 0 ||
        fields_str(b, "reason", "reason", DESK_REASON_MAX, NULL, 0, &reason, resp) < 0)
        goto out;
    if (!cs_is_uuid(dup)) {
        cs_http_error(resp, 422, "duplicate", "duplicate must be a customer id");
        goto out;
    }
    if (!cs_is_uuid(id)) {
        cs_http_error(resp, 404, "id", "no customer %.40s", id);
        goto out;
    }
    if (strcasecmp(dup, id) == 0) {
        cs_http_error(resp, 422, "duplicate", "a customer cannot be merged into itself");
        goto out;
    }
    if (cs_db_begin(req->db) < 0) {
        cs_http_error(resp, 503, NULL, "database unavailable, try again");
        goto out;
    }
    /* Both rows locked in id order, so that two merges of the same pair in
       opposite directions wait for each other instead of deadlocking. */
    const char *pair[] = {id, dup};
    PGresult *r = cs_db_exec(req->db,
                             "SELECT id, merged_into FROM customers WHERE id IN ($1, $2)"
                             " ORDER BY id FOR UPDATE",
                             2, pair);
    if (!r) {
        s_db_failed(req, resp);
        goto out;
    }
    int found_survivor = 0, found_dup = 0;
    const char *bad = NULL, *bad_into = NULL;
    for (int i = 0; i < PQntuples(r); i++) {
        int is_dup = strcasecmp(PQgetvalue(r, i, 0), dup) == 0;
        if (is_dup)
            found_dup = 1;
        else
            found_survivor = 1;
        if (!PQgetisnull(r, i, 1) && !bad) {
            bad = is_dup ? "duplicate" : "id";
            bad_into = PQgetvalue(r, i, 1);
        }
    }
    if (!found_survivor || !found_dup || bad) {
        if (!found_survivor)
            cs_http_error(resp, 404, "id", "no customer %s", id);
        else if (!found_dup)
            cs_http_error(resp, 404, "duplicate", "no customer %s", dup);
        else
            cs_http_error(resp, 409, bad, "%s was already merged into %s", bad, bad_into);
        PQclear(r);
        cs_db_rollback(req->db);
        goto out;
    }
    PQclear(r);
    r = cs_db_exec(
        req->db,
        "WITH k AS (UPDATE contacts SET customer_id = $1, is_primary = false,"
        "   updated_at = now() WHERE customer_id = $2 RETURNING 1),"
        " t AS (UPDATE tickets SET customer_id = $1 WHERE customer_id = $2 RETURNING 1),"
        " l AS (UPDATE ledger SET customer_id = $1 WHERE customer_id = $2 RETURNING 1),"
        " c AS (UPDATE calls SET customer_id = $1 WHERE customer_id = $2 RETURNING 1),"
        " m AS (UPDATE customers SET merged_into = $1 WHERE merged_into = $2"
        "   RETURNING 1)"
        " SELECT json_build_object('contacts', (SELECT count(*) FROM k),"
        " 'tickets', (SELECT count(*) FROM t), 'ledger', (SELECT count(*) FROM l),"
        " 'calls', (SELECT count(*) FROM c), 'earlier_merges', (SELECT count(*) FROM m))",
        2, pair);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        s_db_failed(req, resp);
        goto out;
    }
    json_t *moved = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    const char *m[] = {dup, id, v.actor, reason, PQgetvalue(r, 0, 0)};
    int ok = cs_db_cmd(req->db,
                       "UPDATE customers SET merged_into = $2, updated_at = now(),"
                       " updated_by = $3 WHERE id = $1",
                       3, m) == 1 &&
             cs_db_cmd(req->db,
                       "INSERT INTO customer_merges (duplicate_id, survivor_id, actor, reason,"
                       " moved) VALUES ($1, $2, $3, $4, $5::jsonb)",
                       5, m) == 1 &&
             s_sync_primary(req->db, id, v.actor) == 0 && registry_emit(req->db, id) == 0 &&
             registry_emit(req->db, dup) == 0 && cs_db_commit(req->db) == 0;
    PQclear(r);
    if (!ok) {
        json_decref(moved);
        s_db_failed(req, resp);
        goto out;
    }
    cs_service_kick(svc);
    cs_info("registry: customer %s merged into %s by %s", dup, id, v.actor);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "merged", json_string(dup));
    json_object_set_new(o, "moved", moved ? moved : json_object());
    cs_http_json(resp, 200, o);
out:
    json_decref(b);
}

void registry_register(cs_service_t *svc)
{
    cs_http_t *http = cs_service_http(svc);
    cs_http_route(http, "POST", "/v1/customers", s_create, svc);
    cs_http_route(http, "GET", "/v1/customers", s_list, svc);
    cs_http_route(http, "GET", "/v1/customers/*", s_get, svc);
    cs_http_route(http, "PATCH", "/v1/customers/*", s_patch, svc);
    cs_http_route(http, "POST", "/v1/customers/*/contacts", s_add_contact, svc);
    cs_http_route(http, "PATCH", "/v1/customers/*/contacts/*", s_patch_contact, svc);
    cs_http_route(http, "POST", "/v1/customers/*/merge", s_merge, svc);
}
