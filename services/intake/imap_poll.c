/*
 * imap_poll — see imap_poll.h.
 *
 * A deliberately small client: blocking socket with time-outs on its own
 * thread, one command at a time, responses read line by line with IMAP
 * literals ({n} then n bytes) taken whole. Untagged lines we do not need are
 * skipped. The password never reaches a log line.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include "cs_config.h"
#include "cs_db.h"
#include "cs_log.h"
#include "cs_metrics.h"
#include "imap_poll.h"

#define IMAP_LINE_MAX (1024 * 1024) /* an untagged SEARCH answer can be long */
#define IMAP_IO_TIMEOUT_S 60
#define IMAP_ROUND_MAX 1000 /* messages taken per round */

typedef enum { S_PLAIN, S_STARTTLS, S_IMPLICIT } s_tls_mode_t;

struct imap_poll {
    cs_service_t *svc;
    mail_gateway_t *gateway;
    cs_db_t *db;
    char host[256];
    char port[8];
    char mailbox[256];
    char user[256];
    char password[256];
    char key[800]; /* user@host:port/mailbox: the row of imap_mailboxes */
    s_tls_mode_t tls;
    const char *ca_file;
    int delete_after;
    int64_t poll_s;
    int64_t max_bytes;
    SSL_CTX *ctx;
    pthread_t thread;
    int started;
    int wake[2]; /* a byte here: stop */
    int failing; /* the last round failed: log only changes */
};

/* One connection to the server. */
typedef struct {
    int fd;
    SSL *ssl;
    char buf[16384];
    size_t off, len;
    int tag;
    char *line; /* the last line read (without CRLF), malloc'd */
    size_t line_cap;
    int uidplus;
} s_conn_t;

/* ------------------------------------------------------------------ I/O */

static ssize_t s_raw_read(s_conn_t *c, char *buf, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, (int)n);
        return r > 0 ? r : -1;
    }
    ssize_t r;
    do
        r = recv(c->fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    return r > 0 ? r : -1;
}

static int s_write(s_conn_t *c, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            ERR_clear_error();
            int r = SSL_write(c->ssl, data, (int)n);
            w = r > 0 ? r : -1;
        } else {
            do
                w = send(c->fd, data, n, MSG_NOSIGNAL);
            while (w < 0 && errno == EINTR);
        }
        if (w <= 0)
            return -1;
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_fill(s_conn_t *c)
{
    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    ssize_t n = s_raw_read(c, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

/* Next line into c->line without CRLF. 0 or -1 (closed, time-out, too long). */
static int s_read_line(s_conn_t *c)
{
    size_t n = 0;
    for (;;) {
        char *lf = memchr(c->buf + c->off, '\n', c->len - c->off);
        size_t take = lf ? (size_t)(lf - (c->buf + c->off)) + 1 : c->len - c->off;
        if (n + take + 1 > IMAP_LINE_MAX)
            return -1;
        if (n + take + 1 > c->line_cap) {
            size_t cap = (n + take + 1) * 2;
            char *l = realloc(c->line, cap);
            if (!l)
                return -1;
            c->line = l;
            c->line_cap = cap;
        }
        memcpy(c->line + n, c->buf + c->off, take);
        n += take;
        c->off += take;
        if (lf)
            break;
        if (s_fill(c) < 0)
            return -1;
    }
    while (n > 0 && (c->line[n - 1] == '\n' || c->line[n - 1] == '\r'))
        n--;
    c->line[n] = '\0';
    return 0;
}

/* n bytes of a literal into out (malloc'd, NUL-terminated); or, when out is
   NULL, read and thrown away. 0 or -1. */
static int s_read_bytes(s_conn_t *c, size_t n, char **out)
{
    char *data = out ? malloc(n + 1) : NULL;
    if (out && !data)
        return -1;
    size_t got = 0;
    while (got < n) {
        if (c->off == c->len && s_fill(c) < 0) {
            free(data);
            return -1;
        }
        size_t take = c->len - c->off < n - got ? c->len - c->off : n - got;
        if (data)
            memcpy(data + got, c->buf + c->off, take);
        got += take;
        c->off += take;
    }
    if (out) {
        data[n] = '\0';
        *out = data;
    }
    return 0;
}

/* The literal size a line announces at its end ("... {1234}"), or -1. */
static long long s_literal(const char *line)
{
    size_t n = strlen(line);
    if (n < 3 || line[n - 1] != '}')
        return -1;
    const char *open = strrchr(line, '{');
    if (!open)
        return -1;
    char *end;
    long long v = strtoll(open + 1, &end, 10);
    if (end == open + 1 || (*end != '}' && *end != '+') || v < 0)
        return -1;
    return v;
}

/* Sends "<tag> <command>" and reads to the tagged answer. on_untagged sees
   every untagged line (literals it does not take are skipped). Returns 0
   for OK, -1 for NO/BAD or a broken connection. */
typedef int(s_untagged_fn)(s_conn_t *c, void *ctx);

static int s_command(s_conn_t *c, const char *command, s_untagged_fn *fn, void *ctx)
{
    char tag[16];
    snprintf(tag, sizeof(tag), "a%d", ++c->tag);
    size_t tn = strlen(tag);
    if (s_write(c, tag, tn) < 0 || s_write(c, " ", 1) < 0 ||
        s_write(c, command, strlen(command)) < 0 || s_write(c, "\r\n", 2) < 0)
        return -1;
    for (;;) {
        if (s_read_line(c) < 0)
            return -1;
        if (strncmp(c->line, tag, tn) == 0 && c->line[tn] == ' ')
            return strncasecmp(c->line + tn + 1, "OK", 2) == 0 ? 0 : -1;
        int rc = fn ? fn(c, ctx) : 0;
        if (rc < 0)
            return -1;
        long long lit = rc == 0 ? s_literal(c->line) : -1;
        while (lit >= 0) { /* not taken by fn: skip it and the rest of its line */
            if (s_read_bytes(c, (size_t)lit, NULL) < 0 || s_read_line(c) < 0)
                return -1;
            lit = s_literal(c->line);
        }
    }
}

/* An IMAP quoted string of s (", \ escaped). -1 for what cannot be quoted. */
static int s_quote(const char *s, char *out, size_t size)
{
    size_t j = 0;
    if (size < 3)
        return -1;
    out[j++] = '"';
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n' || j + 4 > size)
            return -1;
        if (*s == '"' || *s == '\\')
            out[j++] = '\\';
        out[j++] = *s;
    }
    out[j++] = '"';
    out[j] = '\0';
    return 0;
}

/* ------------------------------------------------------------ connection */

static int s_connect_tcp(imap_poll_t *self)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(self->host, self->port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = IMAP_IO_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* TLS on the connected socket, the server's certificate checked against
   the CA store and the host name. */
static int s_tls(imap_poll_t *self, s_conn_t *c)
{
    ERR_clear_error();
    c->ssl = SSL_new(self->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    SSL_set_tlsext_host_name(c->ssl, self->host);
    if (SSL_set1_host(c->ssl, self->host) != 1)
        return -1;
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        cs_warn("imap: TLS with %s failed: %s", self->host,
                v != X509_V_OK ? X509_verify_cert_error_string(v) : "handshake");
        return -1;
    }
    return 0;
}

static int s_on_capability(s_conn_t *c, void *ctx)
{
    (void)ctx;
    if (strncasecmp(c->line, "* CAPABILITY ", 13) == 0 && strstr(c->line, " UIDPLUS"))
        c->uidplus = 1;
    return 0;
}

static int s_open(imap_poll_t *self, s_conn_t *c)
{
    c->fd = s_connect_tcp(self);
    if (c->fd < 0) {
        if (!self->failing)
            cs_warn("imap: cannot connect to %s:%s", self->host, self->port);
        return -1;
    }
    if (self->tls == S_IMPLICIT && s_tls(self, c) < 0)
        return -1;
    if (s_read_line(c) < 0 || strncasecmp(c->line, "* OK", 4) != 0) {
        cs_warn("imap: %s did not greet with * OK", self->host);
        return -1;
    }
    if (self->tls == S_STARTTLS &&
        (s_command(c, "STARTTLS", NULL, NULL) < 0 || c->off != c->len || s_tls(self, c) < 0)) {
        cs_warn("imap: STARTTLS with %s failed", self->host);
        return -1;
    }
    char user[600], password[600], cmd[1300];
    if (s_quote(self->user, user, sizeof(user)) < 0 ||
        s_quote(self->password, password, sizeof(password)) < 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "LOGIN %s %s", user, password);
    int rc = s_command(c, cmd, s_on_capability, NULL);
    explicit_bzero(cmd, sizeof(cmd));
    explicit_bzero(password, sizeof(password));
    if (rc < 0) {
        cs_warn("imap: login as %s at %s refused", self->user, self->host);
        return -1;
    }
    if (!c->uidplus && s_command(c, "CAPABILITY", s_on_capability, NULL) < 0)
        return -1;
    return 0;
}

static void s_close(s_conn_t *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->line);
}

/* ---------------------------------------------------------------- a round */

static int s_on_select(s_conn_t *c, void *ctx)
{
    const char *v = strcasestr(c->line, "[UIDVALIDITY ");
    if (v)
        *(long long *)ctx = strtoll(v + 13, NULL, 10);
    return 0;
}

typedef struct {
    long long *uids;
    size_t n, cap;
} s_uids_t;

static int s_on_search(s_conn_t *c, void *ctx)
{
    s_uids_t *u = ctx;
    if (strncasecmp(c->line, "* SEARCH", 8) != 0)
        return 0;
    for (char *p = c->line + 8; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            break;
        p = end;
        if (v <= 0)
            continue;
        if (u->n == u->cap) {
            size_t cap = u->cap ? u->cap * 2 : 64;
            long long *n = realloc(u->uids, cap * sizeof(*n));
            if (!n)
                return -1;
            u->uids = n;
            u->cap = cap;
        }
        u->uids[u->n++] = v;
    }
    return 0;
}

static int s_cmp_uid(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    imap_poll_t *self;
    char *data;
    size_t len;
    int too_large;
} s_fetch_t;

/* "* n FETCH (UID u BODY[] {size}" then the message, then ")". */
static int s_on_fetch(s_conn_t *c, void *ctx)
{
    s_fetch_t *f = ctx;
    long long lit = s_literal(c->line);
    if (lit < 0 || !strcasestr(c->line, " FETCH ") || f->data || f->too_large)
        return 0;
    if (lit > f->self->max_bytes) {
        f->too_large = 1;
        return 0; /* s_command skips it */
    }
    if (s_read_bytes(c, (size_t)lit, &f->data) < 0)
        return -1;
    f->len = (size_t)lit;
    while (s_read_line(c) == 0) { /* the rest of the FETCH response */
        long long more = s_literal(c->line);
        if (more < 0)
            return 1;
        if (s_read_bytes(c, (size_t)more, NULL) < 0)
            return -1;
    }
    return -1;
}

typedef struct {
    imap_poll_t *self;
    char key[840];
    long long uidvalidity, uid;
} s_advance_t;

/* In the message's transaction: the mailbox's highest committed UID. */
static int s_advance(cs_db_t *db, void *ctx)
{
    s_advance_t *a = ctx;
    char uv[24], uid[24];
    const char *p[] = {a->self->key, cs_db_i64(uv, a->uidvalidity), cs_db_i64(uid, a->uid)};
    return cs_db_cmd(db,
                     "UPDATE imap_mailboxes SET last_uid = greatest(last_uid, $3::bigint),"
                     " updated_at = now() WHERE mailbox = $1 AND uidvalidity = $2",
                     3, p) == 1
               ? 0
               : -1;
}

/* The mailbox's stored state, reset when UIDVALIDITY changed. -1 on db error. */
static int s_state(imap_poll_t *self, long long uidvalidity, long long *last_uid)
{
    char uv[24];
    const char *p[] = {self->key, cs_db_i64(uv, uidvalidity)};
    PGresult *r =
        cs_db_exec(self->db,
                   "INSERT INTO imap_mailboxes (mailbox, uidvalidity) VALUES ($1, $2)"
                   " ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = EXCLUDED.uidvalidity,"
                   " last_uid = CASE WHEN imap_mailboxes.uidvalidity = EXCLUDED.uidvalidity"
                   " THEN imap_mailboxes.last_uid ELSE 0 END, updated_at = now()"
                   " RETURNING last_uid",
                   2, p);
    if (!r)
        return -1;
    *last_uid = cs_db_get_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Was this UID of this mailbox (and UIDVALIDITY) committed? 1, 0, -1. */
static int s_taken(imap_poll_t *self, const char *key, long long uid)
{
    char u[24];
    const char *p[] = {key, cs_db_i64(u, uid)};
    PGresult *r = cs_db_exec(
        self->db, "SELECT 1 FROM mail_messages WHERE imap_mailbox = $1 AND imap_uid = $2", 2, p);
    if (!r)
        return -1;
    int taken = PQntuples(r) > 0;
    PQclear(r);
    return taken;
}

/* The envelope sender of a fetched message: its Return-Path, else "". */
static void s_return_path(const char *data, size_t len, char *out, size_t size)
{
    out[0] = '\0';
    const char *end = data + (len < 65536 ? len : 65536);
    for (const char *p = data; p < end && *p != '\r' && *p != '\n';) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (strncasecmp(p, "Return-Path:", 12) == 0) {
            const char *lt = memchr(p, '<', (size_t)(nl - p));
            const char *gt = lt ? memchr(lt, '>', (size_t)(nl - lt)) : NULL;
            if (lt && gt && (size_t)(gt - lt - 1) < size) {
                memcpy(out, lt + 1, (size_t)(gt - lt - 1));
                out[gt - lt - 1] = '\0';
            }
            return;
        }
        p = nl + 1;
    }
}

/* Takes one UID: fetch, commit; 0 taken (or already taken), 1 left on the
   server (too large), -1 stop the round. */
static int s_take_uid(imap_poll_t *self, s_conn_t *c, s_advance_t *adv)
{
    int taken = s_taken(self, adv->key, adv->uid);
    if (taken)
        return taken < 0 ? -1 : 0;
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "UID FETCH %lld BODY.PEEK[]", adv->uid);
    s_fetch_t f = {.self = self};
    if (s_command(c, cmd, s_on_fetch, &f) < 0 || (!f.data && !f.too_large)) {
        free(f.data);
        return -1;
    }
    if (f.too_large) {
        cs_warn("imap: UID %lld of %s is larger than CS_INTAKE_SMTP_MAX_BYTES; left on the server",
                adv->uid, self->mailbox);
        cs_counter_add("cs_intake_imap_messages_total", "outcome=\"too_large\"", 1);
        return 1;
    }
    char from[300];
    s_return_path(f.data, f.len, from, sizeof(from));
    mail_origin_t o = {.source = "imap",
                       .envelope_from = from,
                       .tls = self->tls != S_PLAIN,
                       .imap_mailbox = adv->key,
                       .imap_uid = adv->uid};
    char reply[512];
    int rc = mail_gateway_take(self->gateway, self->db, &o, f.data, f.len, s_advance, adv, reply,
                               sizeof(reply));
    free(f.data);
    if (rc < 0)
        return -1;
    cs_counter_add("cs_intake_imap_messages_total", "outcome=\"taken\"", 1);
    return 0;
}

static int s_stopping(imap_poll_t *self)
{
    struct pollfd p = {.fd = self->wake[0], .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* One round: everything waiting, oldest first. 0 or -1. */
static int s_round(imap_poll_t *self, s_conn_t *c)
{
    if (cs_db_ensure(self->db) < 0 || s_open(self, c) < 0)
        return -1;
    char box[600], cmd[700];
    long long uidvalidity = 0, last_uid = 0;
    if (s_quote(self->mailbox, box, sizeof(box)) < 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "SELECT %s", box);
    if (s_command(c, cmd, s_on_select, &uidvalidity) < 0 || uidvalidity <= 0) {
        cs_warn("imap: cannot select %s (or no UIDVALIDITY)", self->mailbox);
        return -1;
    }
    if (s_state(self, uidvalidity, &last_uid) < 0)
        return -1;
    s_advance_t adv = {.self = self, .uidvalidity = uidvalidity};
    snprintf(adv.key, sizeof(adv.key), "%s#%lld", self->key, uidvalidity);
    s_uids_t u = {0};
    if (self->delete_after)
        snprintf(cmd, sizeof(cmd), "UID SEARCH UNDELETED");
    else
        snprintf(cmd, sizeof(cmd), "UID SEARCH OR UID %lld:* UNSEEN", last_uid + 1);
    int rc = s_command(c, cmd, s_on_search, &u);
    if (rc == 0 && u.n > 1)
        qsort(u.uids, u.n, sizeof(*u.uids), s_cmp_uid);
    size_t flagged = 0;
    char *set = calloc(u.n ? u.n : 1, 21); /* the UIDs flagged \Deleted, for UID EXPUNGE */
    if (!set)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < u.n && i < IMAP_ROUND_MAX && !s_stopping(self); i++) {
        adv.uid = u.uids[i];
        int took = s_take_uid(self, c, &adv);
        if (took < 0) {
            rc = -1;
            break;
        }
        if (took > 0)
            continue;
        /* committed: only now may the server forget it */
        snprintf(cmd, sizeof(cmd), "UID STORE %lld +FLAGS.SILENT (%s)", adv.uid,
                 self->delete_after ? "\\Seen \\Deleted" : "\\Seen");
        if (s_command(c, cmd, NULL, NULL) < 0)
            rc = -1;
        else
            sprintf(set + strlen(set), "%s%lld", flagged++ ? "," : "", adv.uid);
    }
    free(u.uids);
    if (rc == 0 && set && self->delete_after) {
        /* A round cut short between flagging and expunging (a crash, a kill)
           leaves messages we took flagged \Deleted, which UNDELETED no longer
           finds: expunge those too — only the ones recorded as taken, never a
           message someone else flagged. */
        s_uids_t d = {0};
        if (s_command(c, "UID SEARCH DELETED", s_on_search, &d) == 0 && d.n) {
            char *more = realloc(set, strlen(set) + d.n * 21 + 1);
            if (more) {
                set = more;
                for (size_t i = 0; i < d.n; i++)
                    if (s_taken(self, adv.key, d.uids[i]) > 0)
                        sprintf(set + strlen(set), "%s%lld", flagged++ ? "," : "", d.uids[i]);
            }
        }
        free(d.uids);
    }
    if (flagged && self->delete_after) {
        /* with UIDPLUS only what we flagged goes; else every \Deleted message */
        size_t n = strlen(set) + 16;
        char *expunge = malloc(n);
        if (expunge) {
            if (c->uidplus)
                snprintf(expunge, n, "UID EXPUNGE %s", set);
            else
                snprintf(expunge, n, "EXPUNGE");
            s_command(c, expunge, NULL, NULL);
            free(expunge);
        }
    }
    free(set);
    s_command(c, "LOGOUT", NULL, NULL);
    return rc;
}

static void *s_run(void *arg)
{
    imap_poll_t *self = arg;
    for (;;) {
        s_conn_t c = {.fd = -1};
        int rc = s_round(self, &c);
        s_close(&c);
        if (rc < 0 && !self->failing)
            cs_warn("imap: round on %s failed; trying again every %lld s", self->mailbox,
                    (long long)self->poll_s);
        else if (rc == 0 && self->failing)
            cs_info("imap: %s reachable again", self->mailbox);
        self->failing = rc < 0;
        struct pollfd p = {.fd = self->wake[0], .events = POLLIN};
        if (poll(&p, 1, (int)(self->poll_s * 1000)) != 0)
            break;
    }
    return NULL;
}

/* ------------------------------------------------------------ configuration */

/* imap://host[:port][/mailbox] or imaps://… */
static int s_parse_url(imap_poll_t *self, const char *url)
{
    const char *rest;
    if (strncasecmp(url, "imaps://", 8) == 0) {
        self->tls = S_IMPLICIT;
        rest = url + 8;
    } else if (strncasecmp(url, "imap://", 7) == 0) {
        self->tls = S_PLAIN;
        rest = url + 7;
    } else {
        return -1;
    }
    size_t hl = strcspn(rest, ":/");
    if (hl == 0 || hl >= sizeof(self->host))
        return -1;
    memcpy(self->host, rest, hl);
    self->host[hl] = '\0';
    rest += hl;
    snprintf(self->port, sizeof(self->port), "%s", self->tls == S_IMPLICIT ? "993" : "143");
    if (*rest == ':') {
        size_t pl = strspn(rest + 1, "0123456789");
        if (pl == 0 || pl > 5)
            return -1;
        memcpy(self->port, rest + 1, pl);
        self->port[pl] = '\0';
        rest += 1 + pl;
    }
    if (*rest && *rest != '/')
        return -1;
    const char *box = *rest ? rest + 1 : "";
    snprintf(self->mailbox, sizeof(self->mailbox), "%s", *box ? box : "INBOX");
    return 0;
}

static int s_config(imap_poll_t *self, const char *url)
{
    if (s_parse_url(self, url) < 0) {
        cs_error("config: CS_INTAKE_IMAP_URL must be imap://host[:port][/mailbox] or imaps://…");
        return -1;
    }
    const char *user = cs_env_svc("intake", "IMAP_USER", NULL);
    const char *password = cs_env_svc("intake", "IMAP_PASSWORD", NULL);
    if (!user || !*user || strlen(user) >= sizeof(self->user) || strpbrk(user, "\r\n")) {
        cs_error("config: CS_INTAKE_IMAP_USER is missing or not one line");
        return -1;
    }
    if (!password || strlen(password) >= sizeof(self->password) || strpbrk(password, "\r\n")) {
        cs_error("config: CS_INTAKE_IMAP_PASSWORD is missing or not one line");
        return -1;
    }
    snprintf(self->user, sizeof(self->user), "%s", user);
    snprintf(self->password, sizeof(self->password), "%s", password);
    const char *after = cs_env_svc("intake", "IMAP_AFTER", "delete");
    if (strcmp(after, "delete") != 0 && strcmp(after, "seen") != 0) {
        cs_error("config: CS_INTAKE_IMAP_AFTER must be delete or seen");
        return -1;
    }
    self->delete_after = strcmp(after, "delete") == 0;
    int64_t starttls;
    if (cs_env_svc_int("intake", "IMAP_POLL_S", 60, 1, 86400, &self->poll_s) < 0 ||
        cs_env_svc_int("intake", "IMAP_STARTTLS", 0, 0, 1, &starttls) < 0 ||
        cs_env_svc_int("intake", "SMTP_MAX_BYTES", 25 * 1024 * 1024, 1024, 1LL << 30,
                       &self->max_bytes) < 0)
        return -1;
    if (starttls && self->tls == S_IMPLICIT) {
        cs_error("config: CS_INTAKE_IMAP_STARTTLS is for imap://, imaps:// is TLS already");
        return -1;
    }
    if (starttls)
        self->tls = S_STARTTLS;
    snprintf(self->key, sizeof(self->key), "%s@%s:%s/%s", self->user, self->host, self->port,
             self->mailbox);
    self->ca_file = cs_env_svc("intake", "IMAP_CA_FILE", NULL);
    if (self->tls == S_PLAIN)
        return 0;
    self->ctx = SSL_CTX_new(TLS_client_method());
    if (!self->ctx)
        return -1;
    SSL_CTX_set_min_proto_version(self->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(self->ctx, SSL_VERIFY_PEER, NULL);
    if (self->ca_file ? SSL_CTX_load_verify_locations(self->ctx, self->ca_file, NULL) != 1
                      : SSL_CTX_set_default_verify_paths(self->ctx) != 1) {
        cs_error("config: CS_INTAKE_IMAP_CA_FILE: cannot load %s",
                 self->ca_file ? self->ca_file : "the system's CA store");
        return -1;
    }
    return 0;
}

static void s_free(imap_poll_t *self)
{
    if (self->wake[0] >= 0)
        close(self->wake[0]);
    if (self->wake[1] >= 0)
        close(self->wake[1]);
    SSL_CTX_free(self->ctx);
    cs_db_destroy(&self->db);
    explicit_bzero(self->password, sizeof(self->password));
    free(self);
}

int imap_poll_start(cs_service_t *svc, mail_gateway_t *gateway, imap_poll_t **out)
{
    *out = NULL;
    const char *url = cs_env_svc("intake", "IMAP_URL", NULL);
    if (!url || !*url)
        return 0;
    imap_poll_t *self = calloc(1, sizeof(*self));
    if (!self)
        return -1;
    self->wake[0] = self->wake[1] = -1;
    self->svc = svc;
    self->gateway = gateway;
    cs_metric_declare("cs_intake_imap_messages_total", "counter",
                      "Messages taken from the IMAP mailbox, or left there (too_large).");
    if (s_config(self, url) < 0 || pipe2(self->wake, O_CLOEXEC) != 0 ||
        !(self->db = cs_service_db_new(svc, "imap"))) {
        s_free(self);
        return -1;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        s_free(self);
        return -1;
    }
    self->started = 1;
    cs_info("imap: polling %s every %lld s (%s, then %s)", self->key, (long long)self->poll_s,
            self->tls == S_IMPLICIT   ? "TLS"
            : self->tls == S_STARTTLS ? "STARTTLS"
                                      : "plain",
            self->delete_after ? "delete" : "flag seen");
    *out = self;
    return 0;
}

void imap_poll_stop(imap_poll_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    imap_poll_t *self = *self_p;
    if (self->started) {
        ssize_t rc = write(self->wake[1], "x", 1);
        (void)rc;
        pthread_join(self->thread, NULL);
    }
    s_free(self);
    *self_p = NULL;
}
