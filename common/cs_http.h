/*
 * cs_http — the HTTP face of every service: its API routes plus /healthz,
 * /readyz and /metrics (DESIGN.md §8), on libmicrohttpd.
 *
 * All handlers of one server run on one internal thread, which owns its own
 * database connection (cs_http_set_db), so handlers never share a libpq
 * connection with the bus thread — or, where a service asks for it
 * (cs_http_set_threads), on a pool of threads with a connection each.
 *
 * Errors are JSON: {"error":{"field":"customer.email","message":"..."}}.
 */
#ifndef CS_HTTP_H
#define CS_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "cs_db.h"

typedef struct cs_http cs_http_t;

#define CS_HTTP_MAX_PARAMS 4

typedef struct {
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated copy of the request body ("" if none) */
    size_t body_len;
    const char *param[CS_HTTP_MAX_PARAMS]; /* the '*' path segments, in order */
    int nparams;
    cs_db_t *db; /* the HTTP thread's connection, ensured before the call */
    void *ctx;   /* the route's ctx */
    void *conn;  /* struct MHD_Connection * */
    const char *client_ip;
} cs_http_req_t;

typedef struct {
    int status;
    char *body; /* malloc'd; freed by cs_http */
    size_t body_len;
    char content_type[64];
    char location[256]; /* Location header when set */
    char allow[64];     /* Allow header (with 405) when set */
} cs_http_resp_t;

typedef void(cs_http_fn)(cs_http_req_t *req, cs_http_resp_t *resp);
/* Readiness: fill reason (a short JSON object body) and return 1 ready / 0 not. */
typedef int(cs_ready_fn)(void *ctx, char *reason, size_t size);

cs_http_t *cs_http_new(const char *service, const char *bind_addr, int port, size_t max_body);
void cs_http_destroy(cs_http_t **self_p);
void cs_http_set_db(cs_http_t *self, cs_db_t *db);
void cs_http_set_ready(cs_http_t *self, cs_ready_fn *fn, void *ctx);
/* Serve requests on a pool of `threads` threads instead of one (before
   cs_http_start). Each pool thread makes its own database connection with
   db_new(ctx) on its first request and hands it to the handlers as req->db;
   the handlers of a server that does this must be thread-safe. threads <= 1
   keeps the single thread and the cs_http_set_db connection. */
void cs_http_set_threads(cs_http_t *self, int threads, cs_db_t *(*db_new)(void *ctx), void *ctx);
/* pattern: "/v1/tickets/ * /respond" without spaces; '*' matches one segment. */
void cs_http_route(cs_http_t *self, const char *method, const char *pattern, cs_http_fn *fn,
                   void *ctx);
int cs_http_start(cs_http_t *self);
int cs_http_port(cs_http_t *self);

/* Query string parameter (decoded) or NULL. */
const char *cs_http_query(cs_http_req_t *req, const char *key);
const char *cs_http_header(cs_http_req_t *req, const char *key);
/* Optional token-like query parameter (a ticket number, a login): absent
   gives *out NULL; present it must be 1..max visible ASCII characters, since
   an empty or garbled filter would silently match nothing; else a 422
   naming it is put in resp and -1 returned. */
int cs_http_query_token(cs_http_req_t *req, cs_http_resp_t *resp, const char *key, size_t max,
                        const char **out);
/* Integer query parameter: dflt when absent; plain digits within [min, max]
   otherwise, else a 422 naming the parameter is put in resp and -1 returned. */
int cs_http_query_int(cs_http_req_t *req, cs_http_resp_t *resp, const char *key, int64_t dflt,
                      int64_t min, int64_t max, int64_t *out);

/* Responses. cs_http_json steals obj. */
void cs_http_json(cs_http_resp_t *resp, int status, json_t *obj);
void cs_http_error(cs_http_resp_t *resp, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void cs_http_text(cs_http_resp_t *resp, int status, const char *content_type, const char *text);
/* Take ownership of a malloc'd body. */
void cs_http_body(cs_http_resp_t *resp, int status, const char *content_type, char *body,
                  size_t len);

/* Parse the request body as a JSON object; on failure fills resp with 400
   and returns NULL. */
json_t *cs_http_json_body(cs_http_req_t *req, cs_http_resp_t *resp);

#endif
