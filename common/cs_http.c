/*
 * cs_http — see cs_http.h.
 */
#include <assert.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include "cs_config.h"
#include "cs_http.h"
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"

#define MAX_ROUTES 64

typedef struct {
    char method[8];
    char pattern[128];
    cs_http_fn *fn;
    void *ctx;
} route_t;

struct cs_http {
    char service[32];
    char bind_addr[64];
    int port;
    size_t max_body;
    struct MHD_Daemon *daemon;
    route_t routes[MAX_ROUTES];
    int nroutes;
    cs_db_t *db;
    cs_ready_fn *ready;
    void *ready_ctx;
    /* a pool of request threads, each with its own connection (cs_http_set_threads) */
    int threads;
    cs_db_t *(*db_new)(void *ctx);
    void *db_ctx;
    pthread_mutex_t pool_lock;
    cs_db_t **pool_dbs;
    int npool_dbs;
};

/* The connection of the pool thread running a request, made on its first. */
static __thread cs_http_t *tl_owner;
static __thread cs_db_t *tl_db;

/* Per-request state across the access handler's calls. */
typedef struct {
    char *body;
    size_t len;
    int too_large;
} upload_t;

cs_http_t *cs_http_new(const char *service, const char *bind_addr, int port, size_t max_body)
{
    cs_http_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    snprintf(self->service, sizeof(self->service), "%s", service);
    snprintf(self->bind_addr, sizeof(self->bind_addr), "%s", bind_addr ? bind_addr : "127.0.0.1");
    self->port = port;
    self->max_body = max_body ? max_body : 1024 * 1024;
    self->threads = 1;
    pthread_mutex_init(&self->pool_lock, NULL);
    return self;
}

/* Stop taking connections, give the requests in hand up to 5 s to be
   answered (a request that committed must get its answer, or its client
   retries and makes a duplicate), then stop. */
void cs_http_destroy(cs_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cs_http_t *self = *self_p;
    if (self->daemon) {
        MHD_quiesce_daemon(self->daemon);
        for (int i = 0; i < 500; i++) {
            const union MHD_DaemonInfo *info =
                MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
            if (!info || info->num_connections == 0)
                break;
            usleep(10 * 1000);
        }
        MHD_stop_daemon(self->daemon);
    }
    for (int i = 0; i < self->npool_dbs; i++)
        cs_db_destroy(&self->pool_dbs[i]);
    free(self->pool_dbs);
    pthread_mutex_destroy(&self->pool_lock);
    free(self);
    *self_p = NULL;
}

void cs_http_set_db(cs_http_t *self, cs_db_t *db)
{
    self->db = db;
}

void cs_http_set_threads(cs_http_t *self, int threads, cs_db_t *(*db_new)(void *ctx), void *ctx)
{
    assert(!self->daemon);
    self->threads = threads > 1 && db_new ? threads : 1;
    self->db_new = db_new;
    self->db_ctx = ctx;
}

/* The database handle for a request on this thread: the server's own with
   one thread; with a pool, the thread's, made (and remembered for
   cs_http_destroy) the first time the thread serves a request. NULL when
   it cannot be made now. */
static cs_db_t *s_thread_db(cs_http_t *self)
{
    if (self->threads <= 1)
        return self->db;
    if (tl_owner == self && tl_db)
        return tl_db;
    cs_db_t *db = self->db_new(self->db_ctx);
    if (!db)
        return NULL;
    pthread_mutex_lock(&self->pool_lock);
    cs_db_t **grown = realloc(self->pool_dbs, sizeof(*grown) * (size_t)(self->npool_dbs + 1));
    if (grown) {
        self->pool_dbs = grown;
        self->pool_dbs[self->npool_dbs++] = db;
    }
    pthread_mutex_unlock(&self->pool_lock);
    if (!grown) {
        cs_db_destroy(&db);
        return NULL;
    }
    tl_owner = self;
    tl_db = db;
    return db;
}

void cs_http_set_ready(cs_http_t *self, cs_ready_fn *fn, void *ctx)
{
    self->ready = fn;
    self->ready_ctx = ctx;
}

void cs_http_route(cs_http_t *self, const char *method, const char *pattern, cs_http_fn *fn,
                   void *ctx)
{
    assert(self->nroutes < MAX_ROUTES);
    route_t *r = &self->routes[self->nroutes++];
    snprintf(r->method, sizeof(r->method), "%s", method);
    snprintf(r->pattern, sizeof(r->pattern), "%s", pattern);
    r->fn = fn;
    r->ctx = ctx;
}

int cs_http_port(cs_http_t *self)
{
    if (!self->daemon)
        return self->port;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : self->port;
}

/* Match path against pattern segment by segment; '*' captures one segment. */
static int s_match(const char *pattern, const char *path, cs_http_req_t *req, char *store,
                   size_t store_size)
{
    const char *p = pattern, *u = path;
    size_t used = 0;
    req->nparams = 0;
    while (*p && *u) {
        if (*p == '*') {
            const char *end = strchr(u, '/');
            size_t n = end ? (size_t)(end - u) : strlen(u);
            if (n == 0 || req->nparams >= CS_HTTP_MAX_PARAMS || used + n + 1 > store_size)
                return 0;
            memcpy(store + used, u, n);
            store[used + n] = 0;
            req->param[req->nparams++] = store + used;
            used += n + 1;
            u += n;
            p++;
            continue;
        }
        if (*p != *u)
            return 0;
        p++;
        u++;
    }
    return *p == 0 && *u == 0;
}

void cs_http_body(cs_http_resp_t *resp, int status, const char *content_type, char *body,
                  size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->body = body;
    resp->body_len = len;
    snprintf(resp->content_type, sizeof(resp->content_type), "%s", content_type);
}

void cs_http_text(cs_http_resp_t *resp, int status, const char *content_type, const char *text)
{
    char *copy = strdup(text);
    cs_http_body(resp, status, content_type, copy, copy ? strlen(copy) : 0);
}

void cs_http_json(cs_http_resp_t *resp, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!s) {
        cs_http_text(resp, 500, "application/json",
                     "{\"error\":{\"field\":null,\"message\":\"cannot encode response\"}}");
        return;
    }
    cs_http_body(resp, status, "application/json", s, strlen(s));
}

void cs_http_error(cs_http_resp_t *resp, int status, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *err = json_object();
    json_object_set_new(err, "field", field ? json_string(field) : json_null());
    json_object_set_new(err, "message", json_string(msg));
    json_t *obj = json_object();
    json_object_set_new(obj, "error", err);
    cs_http_json(resp, status, obj);
}

json_t *cs_http_json_body(cs_http_req_t *req, cs_http_resp_t *resp)
{
    if (req->body_len == 0) {
        cs_http_error(resp, 400, NULL, "request body must be a JSON object");
        return NULL;
    }
    json_error_t jerr;
    json_t *obj = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        cs_http_error(resp, 400, NULL, "invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        cs_http_error(resp, 400, NULL, "request body must be a JSON object");
        return NULL;
    }
    return obj;
}

const char *cs_http_query(cs_http_req_t *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

int cs_http_query_int(cs_http_req_t *req, cs_http_resp_t *resp, const char *key, int64_t dflt,
                      int64_t min, int64_t max, int64_t *out)
{
    const char *v = cs_http_query(req, key);
    *out = dflt;
    if (!v)
        return 0;
    if (!*v || strspn(v, "0123456789") != strlen(v) || cs_parse_int(v, min, max, out) < 0) {
        cs_http_error(resp, 422, key, "%s must be an integer in [%lld, %lld]", key, (long long)min,
                      (long long)max);
        return -1;
    }
    return 0;
}

int cs_http_query_token(cs_http_req_t *req, cs_http_resp_t *resp, const char *key, size_t max,
                        const char **out)
{
    const char *v = cs_http_query(req, key);
    *out = v;
    if (!v)
        return 0;
    size_t n = strlen(v);
    int ok = n > 0 && n <= max;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] > ' ' && v[i] <= '~';
    if (!ok) {
        cs_http_error(resp, 422, key, "%s must be 1..%zu visible ASCII characters", key, max);
        return -1;
    }
    return 0;
}

const char *cs_http_header(cs_http_req_t *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

static void s_builtin_health(cs_http_t *self, cs_http_req_t *req, cs_http_resp_t *resp)
{
    (void)req;
    char buf[256];
    snprintf(buf, sizeof(buf), "{\"status\":\"alive\",\"service\":\"%s\"}", self->service);
    cs_http_text(resp, 200, "application/json", buf);
}

static void s_builtin_ready(cs_http_t *self, cs_http_req_t *req, cs_http_resp_t *resp)
{
    (void)req;
    char *reason = calloc(1, 16384);
    if (!reason) {
        cs_http_text(resp, 503, "application/json", "{\"ready\":false}");
        return;
    }
    int ok = self->ready ? self->ready(self->ready_ctx, reason, 16384) : 1;
    if (!reason[0])
        snprintf(reason, 16384, "{\"ready\":%s}", ok ? "true" : "false");
    cs_http_body(resp, ok ? 200 : 503, "application/json", reason, strlen(reason));
}

static void s_builtin_metrics(cs_http_t *self, cs_http_req_t *req, cs_http_resp_t *resp)
{
    (void)self;
    (void)req;
    char *text = cs_metrics_render();
    if (!text) {
        cs_http_text(resp, 500, "text/plain", "out of memory\n");
        return;
    }
    cs_http_body(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
}

static const char *s_route_label(cs_http_t *self, const char *method, const char *path,
                                 cs_http_req_t *req, char *store, size_t size, route_t **found)
{
    *found = NULL;
    for (int i = 0; i < self->nroutes; i++) {
        if (s_match(self->routes[i].pattern, path, req, store, size)) {
            if (strcmp(self->routes[i].method, method) == 0) {
                *found = &self->routes[i];
                return self->routes[i].pattern;
            }
        }
    }
    return NULL;
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    (void)version;
    cs_http_t *self = cls;
    upload_t *up = *con_cls;
    if (!up) {
        up = calloc(1, sizeof(*up));
        if (!up)
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!up->too_large && up->len + *upload_data_size <= self->max_body) {
            char *nb = realloc(up->body, up->len + *upload_data_size + 1);
            if (nb) {
                memcpy(nb + up->len, upload_data, *upload_data_size);
                up->body = nb;
                up->len += *upload_data_size;
                up->body[up->len] = 0;
            } else {
                up->too_large = 1;
            }
        } else {
            up->too_large = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    int64_t t0 = cs_mono_ms();
    cs_http_req_t req = {0};
    req.method = method;
    req.path = url;
    req.body = up->body ? up->body : "";
    req.body_len = up->len;
    req.conn = conn;
    req.db = s_thread_db(self);
    char ipbuf[64] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, ipbuf,
                  sizeof(ipbuf));
    req.client_ip = ipbuf;
    cs_http_resp_t resp = {0};
    resp.status = 404;
    const char *label = "unmatched";
    char store[512];
    route_t *route = NULL;

    int builtin =
        strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 || strcmp(url, "/metrics") == 0;
    if (builtin && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        label = url;
        cs_http_error(&resp, 405, NULL, "method %s not allowed here", method);
        snprintf(resp.allow, sizeof(resp.allow), "GET, HEAD");
    } else if (strcmp(url, "/healthz") == 0) {
        label = "/healthz";
        s_builtin_health(self, &req, &resp);
    } else if (strcmp(url, "/readyz") == 0) {
        label = "/readyz";
        s_builtin_ready(self, &req, &resp);
    } else if (strcmp(url, "/metrics") == 0) {
        label = "/metrics";
        s_builtin_metrics(self, &req, &resp);
    } else if (up->too_large) {
        cs_http_error(&resp, 413, NULL, "request body larger than %zu bytes", self->max_body);
    } else if (s_route_label(self, method, url, &req, store, sizeof(store), &route)) {
        label = route->pattern;
        req.ctx = route->ctx;
        if ((self->threads > 1 && !req.db) || (req.db && cs_db_ensure(req.db) < 0)) {
            cs_http_error(&resp, 503, NULL, "database unavailable, try again");
        } else {
            route->fn(&req, &resp);
            if (req.db && cs_db_in_tx(req.db)) {
                /* a handler returned with a transaction open: never leave it */
                cs_db_rollback(req.db);
                cs_error("http: %s %s left a transaction open", method, label);
            }
        }
    } else {
        /* Distinguish a wrong method from an unknown path. */
        int path_known = 0;
        for (int i = 0; i < self->nroutes && !path_known; i++)
            path_known = s_match(self->routes[i].pattern, url, &req, store, sizeof(store));
        if (path_known) {
            cs_http_error(&resp, 405, NULL, "method %s not allowed here", method);
            size_t n = 0;
            for (int i = 0; i < self->nroutes; i++)
                if (s_match(self->routes[i].pattern, url, &req, store, sizeof(store)) &&
                    !strstr(resp.allow, self->routes[i].method))
                    n += (size_t)snprintf(resp.allow + n, sizeof(resp.allow) - n, "%s%s",
                                          n ? ", " : "", self->routes[i].method);
        } else
            cs_http_error(&resp, 404, NULL, "no such resource");
    }
    if (!resp.body)
        cs_http_text(&resp, resp.status ? resp.status : 500, "application/json", "{}");

    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp.body_len, resp.body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", resp.content_type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (resp.location[0])
        MHD_add_response_header(r, "Location", resp.location);
    if (resp.allow[0])
        MHD_add_response_header(r, "Allow", resp.allow);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)resp.status, r);
    MHD_destroy_response(r);

    char labels[256];
    snprintf(labels, sizeof(labels), "route=\"%s %s\",status=\"%d\"", method, label, resp.status);
    cs_counter_add("cs_http_requests_total", labels, 1);
    cs_histogram_observe("cs_http_request_seconds", "", (double)(cs_mono_ms() - t0) / 1000.0);
    return rc;
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    upload_t *up = *con_cls;
    if (up) {
        free(up->body);
        free(up);
    }
    *con_cls = NULL;
}

int cs_http_start(cs_http_t *self)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)self->port);
    if (inet_pton(AF_INET, self->bind_addr, &addr.sin_addr) != 1) {
        cs_error("http: bind address %s is not an IPv4 address", self->bind_addr);
        return -1;
    }
    /* One internal thread, or a pool of them (each connection stays on one
       pool thread, whose requests use that thread's own database handle). */
    self->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | (self->threads > 1 ? MHD_USE_EPOLL : MHD_USE_POLL) |
            MHD_USE_ITC | MHD_USE_ERROR_LOG,
        (uint16_t)self->port, NULL, NULL, s_access, self, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)200, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)(self->threads > 1 ? self->threads : 0), MHD_OPTION_END);
    if (!self->daemon) {
        cs_error("http: cannot listen on %s:%d", self->bind_addr, self->port);
        return -1;
    }
    cs_info("http: listening on %s:%d", self->bind_addr, cs_http_port(self));
    return 0;
}
