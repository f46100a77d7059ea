/*  smtp_server - intake's SMTP/LMTP listener.

    Why it is built this way (see smtp_server.h for the contract):
    - One thread and one poll() loop serve every session, so a slow or hostile
      client costs a file descriptor and a bounded buffer, never a thread.
    - Each session is a small state machine fed from its input buffer. Commands
      are taken one line at a time from that buffer, which is what PIPELINING
      needs: a client may send MAIL, RCPT and DATA in one packet and gets the
      replies in the same order.
    - Output is queued per session. While a session's queue is above a high
      water mark we stop reading its commands, so a client that pipelines and
      never reads cannot make us buffer without bound.
    - After the final "." the message goes to the deliver callback on this
      thread; the reply is queued only when the callback has returned, so the
      250 always follows the commit.
    - STARTTLS: the 220 goes out in plaintext, then the session's I/O moves
      to an OpenSSL object on the same non-blocking socket; the handshake is
      driven by the poll loop like any other I/O (SSL_accept until done), and
      a session never waits for another's handshake. OpenSSL may hold
      decrypted bytes poll() cannot see (SSL_pending): those are read without
      waiting for the socket.
*/
#include "smtp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define SMTP_DEFAULT_MAX_MESSAGE (25u * 1024 * 1024)
#define SMTP_DEFAULT_MAX_RCPT 100
#define SMTP_DEFAULT_MAX_LINE 512
#define SMTP_DEFAULT_MAX_CONN 100
#define SMTP_DEFAULT_MAX_CONN_PER_IP 20
#define SMTP_DEFAULT_MAX_ERRORS 10
#define SMTP_DEFAULT_IDLE_MS 300000
#define SMTP_DEFAULT_GREETING_MS 30000
#define SMTP_MIN_LINE 64
#define SMTP_INBUF_MIN 16384 /* read granularity; also bounds a DATA chunk */
#define SMTP_OUT_HIGH 16384  /* stop taking commands while this much is queued */
#define SMTP_PATH_MAX 256    /* RFC 5321 §4.5.3.1.3, including <> */
#define SMTP_HELO_MAX 255    /* RFC 5321 §4.5.3.1.2 */
#define SMTP_ACCEPT_BATCH 32
#define SMTP_ACCEPT_PAUSE_MS 100

#define S_REPLY_INTERNAL "451 4.3.0 internal error, please try again later"

typedef enum {
    S_GREETED, /* waiting for EHLO/HELO/LHLO */
    S_READY,   /* greeted, no transaction */
    S_MAIL,    /* MAIL accepted, no recipient yet */
    S_RCPT,    /* at least one recipient */
    S_DATA     /* reading the message text */
} s_phase_t;

/* One client session. Everything it holds is bounded by the server limits. */
typedef struct {
    int fd;
    char client_ip[INET6_ADDRSTRLEN];
    s_phase_t phase;
    int lmtp;
    int errors;
    int closing;            /* close once the output is flushed */
    int dead;               /* close now */
    int discarding_line;    /* skipping a too-long command line up to its LF */
    size_t rest_after_line; /* input bytes behind the command being run */
    int starttls;           /* 220 queued: start TLS once it is flushed */
    int deliver_pending;    /* a complete message waits for the round's group delivery */
    int tls_handshake;      /* SSL_accept in progress */
    int tls_want_write;     /* OpenSSL waits for the socket to be writable */
    SSL *ssl;               /* the session's TLS, NULL in plaintext */
    int64_t connected_ms;
    int64_t last_active_ms;
    char helo[SMTP_HELO_MAX + 1];
    char mail_from[SMTP_PATH_MAX + 1];
    char **rcpt;
    size_t rcpt_count;
    /* the message being received */
    char *msg;
    size_t msg_len, msg_cap;
    int msg_oversize;
    int msg_nomem;
    int at_bol; /* next data byte starts a line (dot rules apply) */
    /* I/O buffers */
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_cap;
} s_conn_t;

struct _smtp_server_t {
    char *hostname;
    size_t max_message_bytes;
    size_t max_recipients;
    size_t max_line_bytes;
    int max_connections;
    int max_connections_per_ip;
    int max_errors;
    int greeting_timeout_ms;
    int idle_timeout_ms;
    smtp_deliver_fn *deliver;
    smtp_deliver_batch_fn *deliver_batch;
    void *deliver_ctx;
    smtp_rcpt_check_fn *rcpt_check;
    void *rcpt_check_ctx;
    SSL_CTX *tls_ctx; /* NULL: no STARTTLS */

    int listen_fd;
    int port;
    int wake[2]; /* self-pipe: a byte here means "stop" */
    pthread_t thread;
    int started;
    size_t inbuf_cap;
    int64_t accept_paused_until;

    s_conn_t **conns;
    int conn_count;
    struct pollfd *pfds;

    pthread_mutex_t stats_lock;
    smtp_server_stats_t stats;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_stats_add(smtp_server_t *self, uint64_t *field, int64_t n)
{
    pthread_mutex_lock(&self->stats_lock);
    *field += (uint64_t)n;
    pthread_mutex_unlock(&self->stats_lock);
}

/* ------------------------------------------------------------------ output */

/* Queues one reply line. The queue may pass the high water mark by one
   step's worth (an EHLO or LMTP batch); it never grows past that because
   commands stop being read until it drains. */
static void s_reply(s_conn_t *c, const char *fmt, ...)
{
    char line[SMTP_REPLY_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, SMTP_REPLY_MAX - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > SMTP_REPLY_MAX - 2)
        n = SMTP_REPLY_MAX - 2;
    line[n++] = '\r';
    line[n++] = '\n';
    if (c->out_len + (size_t)n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 1024;
        while (cap < c->out_len + (size_t)n)
            cap *= 2;
        char *out = realloc(c->out, cap);
        if (!out) {
            c->dead = 1;
            return;
        }
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, line, (size_t)n);
    c->out_len += (size_t)n;
}

/* A protocol error: answer it, count it, and end a session that keeps
   erring (a client that speaks something else, or a scanner). */
static void s_error(smtp_server_t *self, s_conn_t *c, const char *reply)
{
    s_reply(c, "%s", reply);
    s_stats_add(self, &self->stats.protocol_errors, 1);
    if (++c->errors >= self->max_errors) {
        s_reply(c, "421 4.7.0 %s too many errors, closing connection", self->hostname);
        c->closing = 1;
    }
}

/* Checks a reply line handed back by a callback before it goes on the
   wire: it must be one line with a code of an allowed class, or the session
   would desynchronise. classes is e.g. "245" or "45". */
static int s_reply_valid(const char *r, const char *classes)
{
    if (!r[0] || !strchr(classes, r[0]))
        return 0;
    if (r[1] < '0' || r[1] > '9' || r[2] < '0' || r[2] > '9')
        return 0;
    if (r[3] != '\0' && r[3] != ' ')
        return 0;
    for (const char *p = r; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* A final reply to a message (per recipient in LMTP), counted by class. */
static void s_reply_final(smtp_server_t *self, s_conn_t *c, const char *reply)
{
    s_reply(c, "%s", reply);
    if (reply[0] == '2')
        s_stats_add(self, &self->stats.messages_accepted, 1);
    else if (reply[0] == '4')
        s_stats_add(self, &self->stats.messages_rejected_temp, 1);
    else
        s_stats_add(self, &self->stats.messages_rejected_perm, 1);
}

/* ------------------------------------------------------------- transaction */

static void s_transaction_reset(s_conn_t *c)
{
    for (size_t i = 0; i < c->rcpt_count; i++)
        free(c->rcpt[i]);
    free(c->rcpt);
    c->rcpt = NULL;
    c->rcpt_count = 0;
    c->mail_from[0] = '\0';
    free(c->msg);
    c->msg = NULL;
    c->msg_len = c->msg_cap = 0;
    c->msg_oversize = c->msg_nomem = 0;
    if (c->phase != S_GREETED)
        c->phase = S_READY;
}

static void s_envelope_fill(s_conn_t *c, smtp_envelope_t *env)
{
    env->helo = c->helo;
    env->client_ip = c->client_ip;
    env->mail_from = c->mail_from;
    env->rcpt = (const char **)c->rcpt;
    env->rcpt_count = c->rcpt_count;
    env->lmtp = c->lmtp;
    env->tls = c->ssl != NULL;
}

/* Parses "<path>" at p into addr (without brackets, source route dropped).
   Quoted local parts may hold spaces and '>'. Sets *rest after the '>'.
   Returns 0, or -1 on a syntax error. */
static int s_parse_path(const char *p, char *addr, size_t addrlen, const char **rest)
{
    if (*p != '<')
        return -1;
    const char *s = ++p;
    int quoted = 0;
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f)
            return -1;
        if (quoted && ch == '\\' && p[1]) {
            p++;
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return -1;
            continue;
        }
        if (ch == '"')
            quoted = !quoted;
        else if (!quoted && (ch == '>' || ch == ' ' || ch == '<'))
            break;
    }
    if (*p != '>')
        return -1;
    size_t len = (size_t)(p - s);
    *rest = p + 1;
    /* RFC 5321 §4.1.2: a source route "@a,@b:" may prefix the mailbox;
       accept it and drop it */
    if (len && s[0] == '@') {
        const char *colon = memchr(s, ':', len);
        if (!colon)
            return -1;
        len -= (size_t)(colon + 1 - s);
        s = colon + 1;
    }
    if (len + 2 > SMTP_PATH_MAX || len >= addrlen)
        return -1;
    memcpy(addr, s, len);
    addr[len] = '\0';
    return 0;
}

/* Checks the mailbox inside a path: local part "@" domain with exactly one
   '@' outside a quoted local part, both sides non-empty. A quoted string is
   only a whole local part (RFC 5321 §4.1.2), so a '"' anywhere else is an
   error; an address like a@b@c would otherwise reach the ticket as a sender
   nobody can answer. Returns 1 for a well-formed mailbox, 0 if there is no
   unquoted '@' at all (so the caller can allow <postmaster>), -1 if bad. */
static int s_mailbox_check(const char *addr)
{
    const char *p = addr;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && p[1])
                p++;
        if (*p != '"')
            return -1;
        p++;
    }
    const char *at = NULL;
    for (const char *q = p; *q; q++) {
        if (*q == '"')
            return -1;
        if (*q != '@')
            continue;
        if (at)
            return -1;
        at = q;
    }
    if (!at)
        return 0;
    return at > addr && at[1] ? 1 : -1;
}

/* Takes the next "KEY[=VALUE]" token from *p; keys are case-insensitive.
   Returns 0 with key/value pointing into buf, or -1 at the end. */
static int s_next_param(const char **p, char *buf, size_t buflen, char **key, char **value)
{
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (!*s)
        return -1;
    const char *e = strchr(s, ' ');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len >= buflen)
        len = buflen - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *p = s + (e ? (size_t)(e - s) : strlen(s));
    *key = buf;
    char *eq = strchr(buf, '=');
    *value = NULL;
    if (eq) {
        *eq = '\0';
        *value = eq + 1;
    }
    return 0;
}

/* RFC 1870 SIZE value: decimal digits only. A number too large to hold is
   still well-formed, only too big: it saturates at SIZE_MAX so the caller
   answers it like any size over the limit (552), not as bad syntax. */
static int s_parse_size(const char *v, size_t *out)
{
    if (!v || !*v)
        return -1;
    size_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9')
            return -1;
        size_t digit = (size_t)(*v - '0');
        n = n > (SIZE_MAX - digit) / 10 ? SIZE_MAX : n * 10 + digit;
    }
    *out = n;
    return 0;
}

/* ---------------------------------------------------------------- commands */

static void s_cmd_helo(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    size_t len = strcspn(args, " ");
    int bad = len == 0 || len > SMTP_HELO_MAX;
    for (size_t i = 0; i < len && !bad; i++)
        bad = (unsigned char)args[i] < 0x20 || args[i] == 0x7f;
    if (bad) {
        s_error(self, c, "501 5.5.4 syntax: EHLO/HELO/LHLO hostname");
        return;
    }
    memcpy(c->helo, args, len);
    c->helo[len] = '\0';
    c->phase = S_READY;
    s_transaction_reset(c);
    c->lmtp = strcasecmp(verb, "LHLO") == 0;
    if (strcasecmp(verb, "HELO") == 0) {
        s_reply(c, "250 %s", self->hostname);
        return;
    }
    s_reply(c, "250-%s greets %s [%s]", self->hostname, c->helo, c->client_ip);
    s_reply(c, "250-PIPELINING");
    s_reply(c, "250-SIZE %zu", self->max_message_bytes);
    s_reply(c, "250-8BITMIME");
    if (self->tls_ctx && !c->ssl)
        s_reply(c, "250-STARTTLS");
    s_reply(c, "250 ENHANCEDSTATUSCODES");
}

/* MAIL FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME] */
static void s_cmd_mail(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb;
    if (c->phase == S_GREETED) {
        s_error(self, c, "503 5.5.1 send EHLO/HELO/LHLO first");
        return;
    }
    if (c->phase != S_READY) {
        s_error(self, c, "503 5.5.1 nested MAIL command");
        return;
    }
    if (strncasecmp(args, "FROM:", 5) != 0) {
        s_error(self, c, "501 5.5.4 syntax: MAIL FROM:<address>");
        return;
    }
    const char *p = args + 5, *rest;
    while (*p == ' ')
        p++;
    char from[SMTP_PATH_MAX + 1];
    if (s_parse_path(p, from, sizeof(from), &rest) != 0 || (*rest && *rest != ' ')) {
        s_error(self, c, "501 5.1.7 bad sender address syntax");
        return;
    }
    int mailbox = from[0] ? s_mailbox_check(from) : 1;
    if (mailbox == 0) {
        s_error(self, c, "501 5.1.7 sender address needs a domain");
        return;
    }
    if (mailbox < 0) {
        s_error(self, c, "501 5.1.7 bad sender address: one '@' between local part and domain");
        return;
    }
    char buf[SMTP_PATH_MAX], *key, *value;
    while (s_next_param(&rest, buf, sizeof(buf), &key, &value) == 0) {
        size_t size;
        if (strcasecmp(key, "SIZE") == 0) {
            if (s_parse_size(value, &size) != 0) {
                s_error(self, c, "501 5.5.4 syntax: SIZE=<digits>");
                return;
            }
            if (size > self->max_message_bytes) {
                s_reply(c, "552 5.3.4 message size exceeds fixed limit of %zu bytes",
                        self->max_message_bytes);
                return;
            }
        } else if (strcasecmp(key, "BODY") == 0) {
            if (!value || (strcasecmp(value, "7BIT") != 0 && strcasecmp(value, "8BITMIME") != 0)) {
                s_error(self, c, "501 5.5.4 syntax: BODY=7BIT or BODY=8BITMIME");
                return;
            }
        } else {
            s_error(self, c, "555 5.5.4 MAIL parameter not recognized");
            return;
        }
    }
    strcpy(c->mail_from, from);
    c->phase = S_MAIL;
    s_reply(c, "250 2.1.0 sender <%s> OK", from);
}

/* Asks the optional recipient check; fills reply when it refuses. */
static int s_rcpt_allowed(smtp_server_t *self, s_conn_t *c, const char *to, char *reply)
{
    if (!self->rcpt_check)
        return 1;
    smtp_envelope_t env;
    s_envelope_fill(c, &env);
    reply[0] = '\0';
    if (self->rcpt_check(self->rcpt_check_ctx, &env, to, reply, SMTP_REPLY_MAX) == 0)
        return 1;
    reply[SMTP_REPLY_MAX - 1] = '\0';
    if (!s_reply_valid(reply, "45"))
        snprintf(reply, SMTP_REPLY_MAX, "550 5.1.1 <%s> mailbox unavailable", to);
    return 0;
}

/* RCPT TO:<path>; <postmaster> without a domain is valid (RFC 5321 §4.1.1.3). */
static void s_cmd_rcpt(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb;
    if (c->phase == S_GREETED) {
        s_error(self, c, "503 5.5.1 send EHLO/HELO/LHLO first");
        return;
    }
    if (c->phase != S_MAIL && c->phase != S_RCPT) {
        s_error(self, c, "503 5.5.1 need MAIL before RCPT");
        return;
    }
    if (strncasecmp(args, "TO:", 3) != 0) {
        s_error(self, c, "501 5.5.4 syntax: RCPT TO:<address>");
        return;
    }
    const char *p = args + 3, *rest;
    while (*p == ' ')
        p++;
    char to[SMTP_PATH_MAX + 1];
    int mailbox = -1;
    if (s_parse_path(p, to, sizeof(to), &rest) == 0 && (!*rest || *rest == ' ') && to[0])
        mailbox = s_mailbox_check(to);
    if (mailbox < 0 || (mailbox == 0 && strcasecmp(to, "postmaster") != 0)) {
        s_error(self, c, "501 5.1.3 bad recipient address syntax");
        return;
    }
    while (*rest == ' ')
        rest++;
    if (*rest) {
        s_error(self, c, "555 5.5.4 RCPT parameters not recognized");
        return;
    }
    if (c->rcpt_count >= self->max_recipients) {
        s_reply(c, "452 4.5.3 too many recipients");
        s_stats_add(self, &self->stats.recipients_rejected, 1);
        return;
    }
    char reply[SMTP_REPLY_MAX];
    if (!s_rcpt_allowed(self, c, to, reply)) {
        s_reply(c, "%s", reply);
        s_stats_add(self, &self->stats.recipients_rejected, 1);
        return;
    }
    if (!c->rcpt && !(c->rcpt = calloc(self->max_recipients, sizeof(*c->rcpt)))) {
        s_reply(c, "452 4.3.1 insufficient system storage");
        return;
    }
    if (!(c->rcpt[c->rcpt_count] = strdup(to))) {
        s_reply(c, "452 4.3.1 insufficient system storage");
        return;
    }
    c->rcpt_count++;
    c->phase = S_RCPT;
    s_reply(c, "250 2.1.5 recipient <%s> OK", to);
}

static void s_cmd_data(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb;
    if (*args) {
        s_error(self, c, "501 5.5.4 syntax: DATA takes no arguments");
        return;
    }
    if (c->phase == S_GREETED) {
        s_error(self, c, "503 5.5.1 send EHLO/HELO/LHLO first");
        return;
    }
    if (c->phase == S_READY) {
        s_error(self, c, "503 5.5.1 need MAIL before DATA");
        return;
    }
    if (c->phase == S_MAIL) {
        s_error(self, c, "503 5.5.1 need RCPT before DATA");
        return;
    }
    c->phase = S_DATA;
    c->at_bol = 1;
    c->msg_len = 0;
    c->msg_oversize = c->msg_nomem = 0;
    s_reply(c, "354 end data with <CR><LF>.<CR><LF>");
}

static void s_cmd_rset(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb;
    if (*args) {
        s_error(self, c, "501 5.5.4 syntax: RSET takes no arguments");
        return;
    }
    s_transaction_reset(c);
    s_reply(c, "250 2.0.0 OK");
}

static void s_cmd_noop(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)self, (void)verb, (void)args;
    s_reply(c, "250 2.0.0 OK");
}

static void s_cmd_quit(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb, (void)args;
    s_reply(c, "221 2.0.0 %s closing connection", self->hostname);
    c->closing = 1;
}

/* We do not confirm mailboxes to strangers (address harvesting). */
static void s_cmd_vrfy(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb;
    if (!*args) {
        s_error(self, c, "501 5.5.4 syntax: VRFY address");
        return;
    }
    s_reply(c, "252 2.5.2 cannot VRFY user, but will accept message and attempt delivery");
}

static void s_cmd_help(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    (void)verb, (void)args;
    s_reply(c, "214 2.0.0 commands: EHLO HELO LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
            self->tls_ctx ? " STARTTLS" : "");
}

static void s_cmd_not_implemented(smtp_server_t *self, s_conn_t *c, const char *verb,
                                  const char *args)
{
    (void)verb, (void)args;
    s_error(self, c, "502 5.5.1 command not implemented");
}

/* RFC 3207. Only offered with a certificate, once per session, outside a
   transaction. Input already behind the command was sent before the
   handshake, in plaintext, by the client or by someone in the middle:
   refuse and close rather than take it as if it had come over TLS. */
static void s_cmd_starttls(smtp_server_t *self, s_conn_t *c, const char *verb, const char *args)
{
    if (!self->tls_ctx) {
        s_cmd_not_implemented(self, c, verb, args);
        return;
    }
    if (c->ssl) {
        s_error(self, c, "503 5.5.1 TLS already active");
        return;
    }
    if (*args) {
        s_error(self, c, "501 5.5.4 syntax: STARTTLS takes no arguments");
        return;
    }
    if (c->phase == S_GREETED) {
        s_error(self, c, "503 5.5.1 send EHLO/LHLO first");
        return;
    }
    if (c->rest_after_line > 0) {
        s_reply(c, "554 5.5.0 commands pipelined after STARTTLS refused, closing connection");
        s_stats_add(self, &self->stats.tls_failures, 1);
        s_stats_add(self, &self->stats.protocol_errors, 1);
        c->closing = 1;
        return;
    }
    s_reply(c, "220 2.0.0 ready to start TLS");
    c->starttls = 1;
}

typedef void(s_cmd_fn)(smtp_server_t *, s_conn_t *, const char *, const char *);

static const struct {
    const char *verb;
    s_cmd_fn *fn;
} s_commands[] = {
    {"EHLO", s_cmd_helo},
    {"HELO", s_cmd_helo},
    {"LHLO", s_cmd_helo},
    {"MAIL", s_cmd_mail},
    {"RCPT", s_cmd_rcpt},
    {"DATA", s_cmd_data},
    {"RSET", s_cmd_rset},
    {"NOOP", s_cmd_noop},
    {"QUIT", s_cmd_quit},
    {"VRFY", s_cmd_vrfy},
    {"HELP", s_cmd_help},
    {"EXPN", s_cmd_not_implemented},
    {"STARTTLS", s_cmd_starttls},
    {"AUTH", s_cmd_not_implemented},
    {"BDAT", s_cmd_not_implemented},
    {"ETRN", s_cmd_not_implemented},
    {"TURN", s_cmd_not_implemented},
};

/* One command line, CRLF removed and NUL-terminated in place. */
static void s_command(smtp_server_t *self, s_conn_t *c, char *line, size_t len)
{
    if (memchr(line, '\0', len)) {
        s_error(self, c, "500 5.5.2 invalid character in command");
        return;
    }
    line[len] = '\0';
    char *args = strchr(line, ' ');
    if (args)
        *args++ = '\0';
    else
        args = line + len;
    while (*args == ' ')
        args++;
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++) {
        if (strcasecmp(line, s_commands[i].verb) == 0) {
            s_commands[i].fn(self, c, line, args);
            return;
        }
    }
    s_error(self, c, "500 5.5.1 command unrecognized");
}

/* Takes one command line from buf. Returns the bytes consumed, 0 when a
   whole line has not arrived yet. A line longer than max_line_bytes is
   skipped up to its LF without being buffered, then answered 500 5.5.2. */
static size_t s_command_take(smtp_server_t *self, s_conn_t *c, char *buf, size_t avail)
{
    char *lf = memchr(buf, '\n', avail);
    if (c->discarding_line) {
        if (!lf)
            return avail;
        c->discarding_line = 0;
        s_error(self, c, "500 5.5.2 line too long");
        return (size_t)(lf - buf) + 1;
    }
    if (!lf) {
        if (avail > self->max_line_bytes - 1) {
            c->discarding_line = 1;
            return avail;
        }
        return 0;
    }
    size_t total = (size_t)(lf - buf) + 1;
    size_t len = total - 1;
    if (len && buf[len - 1] == '\r')
        len--;
    c->rest_after_line = avail - total;
    if (len + 2 > self->max_line_bytes)
        s_error(self, c, "500 5.5.2 line too long");
    else
        s_command(self, c, buf, len);
    return total;
}

/* -------------------------------------------------------------------- DATA */

/* Appends message bytes, or notes that the message is over the limit (we
   keep reading to its end but store nothing more). */
static void s_msg_append(smtp_server_t *self, s_conn_t *c, const char *p, size_t n)
{
    if (c->msg_oversize || c->msg_nomem || n == 0)
        return;
    if (n > self->max_message_bytes - c->msg_len) {
        c->msg_oversize = 1;
        free(c->msg);
        c->msg = NULL;
        c->msg_cap = 0;
        return;
    }
    size_t need = c->msg_len + n + 1; /* +1: a NUL after the data */
    if (need > c->msg_cap) {
        size_t cap = c->msg_cap ? c->msg_cap : 16384;
        while (cap < need)
            cap *= 2;
        if (cap > self->max_message_bytes + 1)
            cap = self->max_message_bytes + 1;
        char *msg = realloc(c->msg, cap);
        if (!msg) {
            c->msg_nomem = 1;
            free(c->msg);
            c->msg = NULL;
            c->msg_cap = 0;
            return;
        }
        c->msg = msg;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_len, p, n);
    c->msg_len += n;
}

/* Queues the final replies of one message from what the callback said (one
   per recipient in LMTP); a failure or a malformed reply is a 451. */
static void s_queue_final(smtp_server_t *self, s_conn_t *c, int rc, char *reply,
                          char **rcpt_replies)
{
    size_t n = c->lmtp ? c->rcpt_count : 1;
    reply[SMTP_REPLY_MAX - 1] = '\0';
    if (rc == 0 && !reply[0])
        strcpy(reply, "250 2.0.0 OK");
    if (rc != 0 || !s_reply_valid(reply, "245")) {
        for (size_t i = 0; i < n; i++)
            s_reply_final(self, c, S_REPLY_INTERNAL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *r = reply;
        if (rcpt_replies && rcpt_replies[i][0]) {
            rcpt_replies[i][SMTP_REPLY_MAX - 1] = '\0';
            r = s_reply_valid(rcpt_replies[i], "245") ? rcpt_replies[i] : S_REPLY_INTERNAL;
        }
        s_reply_final(self, c, r);
    }
}

/* LMTP: one reply buffer per recipient, in one block (*block to free). */
static char **s_rcpt_replies_new(s_conn_t *c, char **block)
{
    *block = NULL;
    if (!c->lmtp)
        return NULL;
    char **r = calloc(c->rcpt_count, sizeof(*r));
    *block = calloc(c->rcpt_count, SMTP_REPLY_MAX);
    if (!r || !*block) {
        free(r);
        free(*block);
        *block = NULL;
        return NULL;
    }
    for (size_t i = 0; i < c->rcpt_count; i++)
        r[i] = *block + i * SMTP_REPLY_MAX;
    return r;
}

/* Hands the message to the deliver callback and queues its reply (one per
   recipient in LMTP). Runs after the final "."; the reply is queued only
   now, after the callback (and so the commit) has returned. */
static void s_deliver(smtp_server_t *self, s_conn_t *c)
{
    char reply[SMTP_REPLY_MAX] = "";
    char *block;
    char **rcpt_replies = s_rcpt_replies_new(c, &block);
    if (c->lmtp && !rcpt_replies) {
        s_queue_final(self, c, -1, reply, NULL);
        return;
    }
    smtp_envelope_t env;
    s_envelope_fill(c, &env);
    const char *data = c->msg ? c->msg : "";
    if (c->msg)
        c->msg[c->msg_len] = '\0';
    int rc = self->deliver(self->deliver_ctx, &env, data, c->msg_len, reply, sizeof(reply),
                           rcpt_replies);
    s_queue_final(self, c, rc, reply, rcpt_replies);
    free(block);
    free(rcpt_replies);
}

static void s_data_end(smtp_server_t *self, s_conn_t *c)
{
    size_t n = c->lmtp ? c->rcpt_count : 1;
    if (c->msg_oversize) {
        for (size_t i = 0; i < n; i++)
            s_reply_final(self, c, "552 5.3.4 message size exceeds fixed limit");
    } else if (c->msg_nomem) {
        for (size_t i = 0; i < n; i++)
            s_reply_final(self, c, "452 4.3.1 insufficient system storage");
    } else if (self->deliver_batch) {
        c->deliver_pending = 1; /* delivered with the round's others (s_deliver_round) */
        return;
    } else {
        s_deliver(self, c);
    }
    c->phase = S_READY;
    s_transaction_reset(c);
}

/* Consumes message text from buf: full lines with dot-unstuffing and the
   end marker; a line too long for the buffer is passed through in pieces
   (no dot rule applies inside a line). Bare LF ends a line too; every line
   is stored with CRLF. Returns the bytes consumed. */
static size_t s_data_take(smtp_server_t *self, s_conn_t *c, char *buf, size_t avail)
{
    size_t off = 0;
    while (off < avail && c->phase == S_DATA) {
        char *line = buf + off;
        size_t rem = avail - off;
        char *lf = memchr(line, '\n', rem);
        if (!lf) {
            if (rem < self->inbuf_cap / 2)
                break; /* room to wait for the rest of the line */
            size_t n = rem;
            if (line[n - 1] == '\r')
                n--; /* may be the CR of CRLF: keep it for later */
            off += n;
            if (c->at_bol && line[0] == '.') {
                line++;
                n--;
            }
            s_msg_append(self, c, line, n);
            c->at_bol = 0;
            continue;
        }
        size_t total = (size_t)(lf - line) + 1;
        size_t len = total - 1;
        if (len && line[len - 1] == '\r')
            len--;
        off += total;
        if (c->at_bol && len == 1 && line[0] == '.') {
            s_data_end(self, c);
            break;
        }
        if (c->at_bol && len && line[0] == '.') {
            line++;
            len--;
        }
        s_msg_append(self, c, line, len);
        s_msg_append(self, c, "\r\n", 2);
        c->at_bol = 1;
    }
    return off;
}

/* ------------------------------------------------------------------ session */

/* Runs the commands and text waiting in the input buffer, in order, until
   more input is needed, the session closes, or the output queue is full. */
static void s_conn_process(smtp_server_t *self, s_conn_t *c)
{
    size_t off = 0;
    while (off < c->in_len && !c->closing && !c->dead && !c->starttls && !c->deliver_pending &&
           c->out_len < SMTP_OUT_HIGH) {
        size_t used;
        if (c->phase == S_DATA)
            used = s_data_take(self, c, c->in + off, c->in_len - off);
        else
            used = s_command_take(self, c, c->in + off, c->in_len - off);
        if (used == 0)
            break;
        off += used;
    }
    if (c->closing || c->starttls)
        off = c->in_len; /* whatever follows QUIT, a 421 or STARTTLS is not read */
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

/* One write of the session's output, plain or through TLS: bytes written,
   0 when the socket cannot take more now, -1 when the session is broken. */
static ssize_t s_conn_send(s_conn_t *c, const char *buf, size_t len)
{
    if (!c->ssl) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return n > 0 ? n : -1;
    }
    ERR_clear_error();
    int n = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    return -1;
}

/* One read, plain or through TLS: bytes read, 0 at the peer's end of the
   stream, -1 when nothing is there now, -2 when the session is broken. */
static ssize_t s_conn_recv(s_conn_t *c, char *buf, size_t len)
{
    if (!c->ssl) {
        ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
        return n;
    }
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
        return -1;
    }
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -2;
}

static void s_conn_flush(s_conn_t *c)
{
    while (c->out_len > 0 && !c->dead && !c->tls_handshake) {
        ssize_t n = s_conn_send(c, c->out, c->out_len);
        if (n > 0) {
            memmove(c->out, c->out + n, c->out_len - (size_t)n);
            c->out_len -= (size_t)n;
            c->last_active_ms = s_now_ms();
        } else if (n == 0) {
            break;
        } else {
            c->dead = 1;
        }
    }
}

/* A fresh session after the handshake (RFC 3207 §4.2): nothing said before
   it counts, the client greets again. */
static void s_tls_established(smtp_server_t *self, s_conn_t *c)
{
    c->tls_handshake = 0;
    c->tls_want_write = 0;
    s_transaction_reset(c);
    c->phase = S_GREETED;
    c->helo[0] = '\0';
    c->lmtp = 0;
    c->connected_ms = c->last_active_ms = s_now_ms();
    s_stats_add(self, &self->stats.tls_sessions, 1);
}

/* Drives SSL_accept one step; a failed handshake ends the session (there
   is no way back to plaintext). */
static void s_tls_step(smtp_server_t *self, s_conn_t *c)
{
    ERR_clear_error();
    int rc = SSL_accept(c->ssl);
    if (rc == 1) {
        s_tls_established(self, c);
        return;
    }
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        c->tls_want_write = e == SSL_ERROR_WANT_WRITE;
        return;
    }
    s_stats_add(self, &self->stats.tls_failures, 1);
    c->dead = 1;
}

/* The 220 to STARTTLS is on the wire: from now on the socket speaks TLS. */
static void s_tls_begin(smtp_server_t *self, s_conn_t *c)
{
    c->starttls = 0;
    c->in_len = 0;
    c->ssl = SSL_new(self->tls_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        s_stats_add(self, &self->stats.tls_failures, 1);
        c->dead = 1;
        return;
    }
    SSL_set_accept_state(c->ssl);
    c->tls_handshake = 1;
    /* the handshake has the greeting's time limit, not the idle one */
    s_transaction_reset(c);
    c->phase = S_GREETED;
    c->connected_ms = c->last_active_ms = s_now_ms();
    s_tls_step(self, c);
}

/* Alternates processing and writing while that makes progress, so input
   held back by a full output queue is taken up once the queue drains. */
static void s_conn_pump(smtp_server_t *self, s_conn_t *c)
{
    if (c->tls_handshake) {
        s_tls_step(self, c);
        if (c->tls_handshake || c->dead)
            return;
    }
    for (;;) {
        size_t before = c->in_len;
        s_conn_process(self, c);
        s_conn_flush(c);
        if (c->starttls && c->out_len == 0 && !c->dead) {
            s_tls_begin(self, c);
            return;
        }
        if (c->dead || c->closing || c->starttls || c->deliver_pending || c->in_len == 0 ||
            c->in_len == before || c->out_len >= SMTP_OUT_HIGH)
            break;
    }
    if (c->closing && c->out_len == 0)
        c->dead = 1;
}

static void s_conn_read(smtp_server_t *self, s_conn_t *c)
{
    if (c->tls_handshake) {
        s_conn_pump(self, c);
        return;
    }
    size_t space = self->inbuf_cap - c->in_len;
    if (space == 0 || c->closing || c->starttls)
        return;
    ssize_t n = s_conn_recv(c, c->in + c->in_len, space);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->last_active_ms = s_now_ms();
        s_conn_pump(self, c);
    } else if (n == 0 || n == -2) {
        c->dead = 1; /* peer closed; an unfinished message is dropped unacknowledged */
    }
}

/* Decrypted input OpenSSL holds that poll() cannot announce. */
static int s_tls_pending(smtp_server_t *self, const s_conn_t *c)
{
    return c->ssl && !c->tls_handshake && !c->closing && !c->starttls &&
           c->in_len < self->inbuf_cap && c->out_len < SMTP_OUT_HIGH && SSL_pending(c->ssl) > 0;
}

static void s_conn_destroy(smtp_server_t *self, s_conn_t **c_p)
{
    s_conn_t *c = *c_p;
    if (!c)
        return;
    s_transaction_reset(c);
    if (c->ssl) {
        if (!c->tls_handshake)
            SSL_shutdown(c->ssl); /* close_notify, best effort: the socket does not block */
        SSL_free(c->ssl);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
    *c_p = NULL;
    s_stats_add(self, &self->stats.connections_open, -1);
}

static s_conn_t *s_conn_new(smtp_server_t *self, int fd, const char *client_ip)
{
    s_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->in = malloc(self->inbuf_cap);
    if (!c->in) {
        free(c);
        return NULL;
    }
    c->fd = fd;
    c->phase = S_GREETED;
    c->connected_ms = c->last_active_ms = s_now_ms();
    snprintf(c->client_ip, sizeof(c->client_ip), "%s", client_ip);
    s_reply(c, "220 %s ESMTP petrocs intake ready", self->hostname);
    return c;
}

/* Sessions open now from client_ip (numeric form, as getnameinfo gives it). */
static int s_conns_from(smtp_server_t *self, const char *client_ip)
{
    int n = 0;
    for (int i = 0; i < self->conn_count; i++)
        if (strcmp(self->conns[i]->client_ip, client_ip) == 0)
            n++;
    return n;
}

/* Answers 421 to a connection we will not serve and closes it. */
static void s_refuse(smtp_server_t *self, int fd, const char *reply)
{
    ssize_t rc = send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)rc;
    close(fd);
    s_stats_add(self, &self->stats.connections_refused, 1);
}

/* Accepts what is waiting. Beyond max_connections, or beyond
   max_connections_per_ip from one address (so one client cannot hold every
   slot), a client gets a 421 and is closed at once; when the process is out
   of descriptors we stop accepting briefly instead of spinning on the ready
   listener. */
static void s_accept(smtp_server_t *self)
{
    static const char busy[] = "421 4.7.0 too many connections, try again later\r\n";
    static const char busy_ip[] = "421 4.7.0 too many connections from your address\r\n";
    for (int i = 0; i < SMTP_ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        int fd =
            accept4(self->listen_fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                self->accept_paused_until = s_now_ms() + SMTP_ACCEPT_PAUSE_MS;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        if (self->conn_count >= self->max_connections) {
            s_refuse(self, fd, busy);
            continue;
        }
        char client_ip[INET6_ADDRSTRLEN];
        if (getnameinfo((struct sockaddr *)&ss, slen, client_ip, sizeof(client_ip), NULL, 0,
                        NI_NUMERICHOST))
            strcpy(client_ip, "unknown");
        if (s_conns_from(self, client_ip) >= self->max_connections_per_ip) {
            s_refuse(self, fd, busy_ip);
            continue;
        }
        s_conn_t *c = s_conn_new(self, fd, client_ip);
        if (!c) {
            close(fd);
            continue;
        }
        self->conns[self->conn_count++] = c;
        s_stats_add(self, &self->stats.connections_total, 1);
        s_stats_add(self, &self->stats.connections_open, 1);
        s_conn_flush(c);
    }
}

/* When the session's time is up. A session that has not introduced itself
   must do so within greeting_timeout_ms of connecting, whatever it sends
   meanwhile: a crowd of such sessions would otherwise hold slots for the
   whole idle_timeout_ms (RFC 5321 §4.5.3.2's five minutes are meant for
   a client that is busy with a transaction). Once closing, a session has
   the shorter timeout that applies to it to read our last reply. */
static int64_t s_deadline(smtp_server_t *self, const s_conn_t *c)
{
    int greeted = c->phase != S_GREETED;
    int timeout = greeted || self->idle_timeout_ms < self->greeting_timeout_ms
                      ? self->idle_timeout_ms
                      : self->greeting_timeout_ms;
    int64_t deadline = c->last_active_ms + timeout;
    if (!greeted && !c->closing && c->connected_ms + self->greeting_timeout_ms < deadline)
        deadline = c->connected_ms + self->greeting_timeout_ms;
    return deadline;
}

/* Says 421 to a session whose time is up, then gives it one chance to read it. */
static void s_check_idle(smtp_server_t *self, s_conn_t *c, int64_t now)
{
    if (c->dead || now < s_deadline(self, c))
        return;
    if (c->closing) {
        c->dead = 1;
        return;
    }
    if (c->phase == S_GREETED)
        s_reply(c, "421 4.4.2 %s no EHLO/HELO/LHLO in time, closing connection", self->hostname);
    else
        s_reply(c, "421 4.4.2 %s idle timeout, closing connection", self->hostname);
    c->closing = 1;
    c->last_active_ms = now;
    s_stats_add(self, &self->stats.timeouts, 1);
    s_conn_flush(c);
    if (c->out_len == 0)
        c->dead = 1;
}

/* Builds the poll set: listener, wake pipe, then one entry per session.
   Returns the poll timeout: the nearest session deadline or accept resumption. */
static int s_poll_prepare(smtp_server_t *self, int64_t now)
{
    int64_t timeout = -1;
    self->pfds[0].fd = self->listen_fd;
    self->pfds[0].events = POLLIN;
    if (now < self->accept_paused_until) {
        self->pfds[0].fd = -1;
        timeout = self->accept_paused_until - now;
    }
    self->pfds[1].fd = self->wake[0];
    self->pfds[1].events = POLLIN;
    for (int i = 0; i < self->conn_count; i++) {
        s_conn_t *c = self->conns[i];
        struct pollfd *pfd = &self->pfds[2 + i];
        pfd->fd = c->fd;
        pfd->events = 0;
        pfd->revents = 0;
        if (c->tls_handshake) {
            pfd->events = c->tls_want_write ? POLLOUT : POLLIN;
        } else {
            if (!c->closing && c->in_len < self->inbuf_cap && c->out_len < SMTP_OUT_HIGH)
                pfd->events |= POLLIN;
            if (c->out_len > 0 || c->tls_want_write)
                pfd->events |= POLLOUT;
        }
        int64_t left = s_tls_pending(self, c) ? 0 : s_deadline(self, c) - now;
        if (left < 0)
            left = 0;
        if (timeout < 0 || left < timeout)
            timeout = left;
    }
    return timeout > 600000 ? 600000 : (int)timeout;
}

static void s_reap(smtp_server_t *self)
{
    int j = 0;
    for (int i = 0; i < self->conn_count; i++) {
        if (self->conns[i]->dead)
            s_conn_destroy(self, &self->conns[i]);
        else
            self->conns[j++] = self->conns[i];
    }
    self->conn_count = j;
}

static void s_shutdown_sessions(smtp_server_t *self)
{
    for (int i = 0; i < self->conn_count; i++) {
        s_conn_t *c = self->conns[i];
        if (!c->closing && !c->dead)
            s_reply(c, "421 4.3.2 %s shutting down", self->hostname);
        s_conn_flush(c);
        s_conn_destroy(self, &self->conns[i]);
    }
    self->conn_count = 0;
}

/* Group commit: every message completed in this poll round goes to the
   batch callback at once; then each session gets its replies and carries on
   with what it pipelined behind (which may complete another message: a few
   more rounds, bounded). */
static void s_deliver_round(smtp_server_t *self)
{
    if (!self->deliver_batch)
        return;
    for (int round = 0; round < 8; round++) {
        size_t n = 0;
        for (int i = 0; i < self->conn_count; i++)
            n += self->conns[i]->deliver_pending;
        if (n == 0)
            return;
        smtp_delivery_t *items = calloc(n, sizeof(*items));
        char **blocks = calloc(n, sizeof(*blocks));
        char *replies = calloc(n, SMTP_REPLY_MAX);
        int ok = items && blocks && replies;
        size_t k = 0;
        for (int i = 0; ok && i < self->conn_count; i++) {
            s_conn_t *c = self->conns[i];
            if (!c->deliver_pending)
                continue;
            s_envelope_fill(c, &items[k].env);
            if (c->msg)
                c->msg[c->msg_len] = '\0';
            items[k].data = c->msg ? c->msg : "";
            items[k].len = c->msg_len;
            items[k].reply = replies + k * SMTP_REPLY_MAX;
            items[k].rcpt_replies = s_rcpt_replies_new(c, &blocks[k]);
            k++;
        }
        if (ok)
            self->deliver_batch(self->deliver_ctx, items, n);
        for (int i = 0, j = 0; i < self->conn_count; i++) {
            s_conn_t *c = self->conns[i];
            if (!c->deliver_pending)
                continue;
            char none[SMTP_REPLY_MAX] = "";
            if (ok)
                s_queue_final(self, c, items[j].rc, items[j].reply, items[j].rcpt_replies);
            else
                s_queue_final(self, c, -1, none, NULL);
            if (ok) {
                free(items[j].rcpt_replies);
                free(blocks[j]);
            }
            j++;
            c->deliver_pending = 0;
            c->phase = S_READY;
            s_transaction_reset(c);
            if (!c->dead)
                s_conn_pump(self, c);
        }
        free(items);
        free(blocks);
        free(replies);
    }
}

static void *s_run(void *arg)
{
    smtp_server_t *self = arg;
    for (;;) {
        int timeout = s_poll_prepare(self, s_now_ms());
        int nconn = self->conn_count;
        int rc = poll(self->pfds, (nfds_t)(2 + nconn), timeout);
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && self->pfds[1].revents)
            break;
        for (int i = 0; rc >= 0 && i < nconn; i++) {
            s_conn_t *c = self->conns[i];
            short ev = rc > 0 ? self->pfds[2 + i].revents : 0;
            if (ev & POLLNVAL)
                c->dead = 1;
            if (!c->dead && (ev & (POLLIN | POLLHUP | POLLERR)) && !c->closing)
                s_conn_read(self, c);
            if (!c->dead && (ev & POLLOUT)) {
                c->tls_want_write = 0;
                s_conn_pump(self, c);
            }
            if (!c->dead && s_tls_pending(self, c))
                s_conn_read(self, c);
            if (!c->dead && (ev & (POLLHUP | POLLERR)) && c->closing)
                c->dead = 1;
        }
        s_deliver_round(self);
        int64_t now = s_now_ms();
        for (int i = 0; i < self->conn_count; i++)
            s_check_idle(self, self->conns[i], now);
        s_reap(self);
        if (rc > 0 && (self->pfds[0].revents & POLLIN))
            s_accept(self);
    }
    s_shutdown_sessions(self);
    return NULL;
}

/* ------------------------------------------------------------------ public */

/* Binds the first address bind_addr resolves to. */
static int s_listen(smtp_server_t *self, const char *addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(addr, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "smtp: bind_addr '%s': %s", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "smtp: socket: %s", strerror(errno));
        goto out_free_res;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "smtp: cannot listen on %s port %d: %s", addr, port, strerror(errno));
        goto out_close;
    }
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &slen);
    self->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                : ((struct sockaddr_in *)&ss)->sin_port);
    self->listen_fd = fd;
    freeaddrinfo(res);
    return 0;
out_close:
    close(fd);
out_free_res:
    freeaddrinfo(res);
    return -1;
}

/* The hostname goes into every greeting: refuse one that could break a line. */
static char *s_hostname(const char *configured)
{
    char buf[256] = "localhost";
    if (configured)
        snprintf(buf, sizeof(buf), "%s", configured);
    else if (gethostname(buf, sizeof(buf) - 1) != 0 || !buf[0])
        strcpy(buf, "localhost");
    buf[sizeof(buf) - 1] = '\0';
    for (const char *p = buf; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return NULL;
    return buf[0] ? strdup(buf) : NULL;
}

/* The TLS context for STARTTLS: TLS 1.2 or later, the configured chain and
   key (which must match). Partial writes and a moving write buffer because
   the output queue is compacted after each partial send. */
static int s_tls_setup(smtp_server_t *self, const char *cert, const char *key, char *err,
                       size_t errlen)
{
    if (!cert || !*cert)
        return 0;
    if (!key || !*key)
        key = cert;
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *what = "cannot create a TLS context";
    if (!ctx)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    what = "cannot read the TLS certificate";
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        goto fail;
    what = "cannot read the TLS key";
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        goto fail;
    what = "the TLS key does not match the certificate";
    if (SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    self->tls_ctx = ctx;
    return 0;
fail : {
    char detail[160] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, detail, sizeof(detail));
    snprintf(err, errlen, "smtp: %s (%s, %s): %s", what, cert, key, detail);
    SSL_CTX_free(ctx);
    return -1;
}
}

static int s_config_apply(smtp_server_t *self, const smtp_server_config_t *cfg, char *err,
                          size_t errlen)
{
    if (!cfg->deliver) {
        snprintf(err, errlen, "smtp: deliver callback is required");
        return -1;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        snprintf(err, errlen, "smtp: port %d out of range 0..65535", cfg->port);
        return -1;
    }
    self->max_message_bytes =
        cfg->max_message_bytes ? cfg->max_message_bytes : SMTP_DEFAULT_MAX_MESSAGE;
    self->max_recipients = cfg->max_recipients ? cfg->max_recipients : SMTP_DEFAULT_MAX_RCPT;
    self->max_line_bytes = cfg->max_line_bytes ? cfg->max_line_bytes : SMTP_DEFAULT_MAX_LINE;
    self->max_connections = cfg->max_connections > 0 ? cfg->max_connections : SMTP_DEFAULT_MAX_CONN;
    self->max_connections_per_ip = cfg->max_connections_per_ip > 0 ? cfg->max_connections_per_ip
                                                                   : SMTP_DEFAULT_MAX_CONN_PER_IP;
    self->max_errors = cfg->max_errors > 0 ? cfg->max_errors : SMTP_DEFAULT_MAX_ERRORS;
    self->greeting_timeout_ms =
        cfg->greeting_timeout_ms > 0 ? cfg->greeting_timeout_ms : SMTP_DEFAULT_GREETING_MS;
    self->idle_timeout_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : SMTP_DEFAULT_IDLE_MS;
    if (self->max_line_bytes < SMTP_MIN_LINE || self->max_line_bytes > 1024 * 1024) {
        snprintf(err, errlen, "smtp: max_line_bytes %zu out of range %d..1048576",
                 self->max_line_bytes, SMTP_MIN_LINE);
        return -1;
    }
    if (self->max_message_bytes > SIZE_MAX / 4 || self->max_recipients > 100000) {
        snprintf(err, errlen, "smtp: max_message_bytes or max_recipients too large");
        return -1;
    }
    self->inbuf_cap = self->max_line_bytes > SMTP_INBUF_MIN ? self->max_line_bytes : SMTP_INBUF_MIN;
    self->deliver = cfg->deliver;
    self->deliver_batch = cfg->deliver_batch;
    self->deliver_ctx = cfg->deliver_ctx;
    self->rcpt_check = cfg->rcpt_check;
    self->rcpt_check_ctx = cfg->rcpt_check_ctx;
    if (!(self->hostname = s_hostname(cfg->hostname))) {
        snprintf(err, errlen, "smtp: hostname must be a non-empty word without spaces");
        return -1;
    }
    return s_tls_setup(self, cfg->tls_cert_file, cfg->tls_key_file, err, errlen);
}

smtp_server_t *smtp_server_new(const smtp_server_config_t *cfg, char *err, size_t errlen)
{
    smtp_server_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errlen, "smtp: out of memory");
        return NULL;
    }
    self->listen_fd = self->wake[0] = self->wake[1] = -1;
    pthread_mutex_init(&self->stats_lock, NULL);
    if (s_config_apply(self, cfg, err, errlen) != 0)
        goto out_destroy;
    self->conns = calloc((size_t)self->max_connections, sizeof(*self->conns));
    self->pfds = calloc((size_t)self->max_connections + 2, sizeof(*self->pfds));
    if (!self->conns || !self->pfds) {
        snprintf(err, errlen, "smtp: out of memory");
        goto out_destroy;
    }
    if (pipe2(self->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "smtp: pipe: %s", strerror(errno));
        goto out_destroy;
    }
    if (s_listen(self, cfg->bind_addr ? cfg->bind_addr : "127.0.0.1", cfg->port, err, errlen))
        goto out_destroy;
    return self;
out_destroy:
    smtp_server_destroy(&self);
    return NULL;
}

int smtp_server_start(smtp_server_t *self)
{
    if (self->started)
        return -1;
    if (pthread_create(&self->thread, NULL, s_run, self) != 0)
        return -1;
    self->started = 1;
    return 0;
}

int smtp_server_port(smtp_server_t *self)
{
    return self->port;
}

void smtp_server_stats(smtp_server_t *self, smtp_server_stats_t *out)
{
    pthread_mutex_lock(&self->stats_lock);
    *out = self->stats;
    pthread_mutex_unlock(&self->stats_lock);
}

void smtp_server_destroy(smtp_server_t **self_p)
{
    smtp_server_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        ssize_t rc = write(self->wake[1], "x", 1);
        (void)rc;
        pthread_join(self->thread, NULL);
    }
    s_shutdown_sessions(self);
    if (self->listen_fd >= 0)
        close(self->listen_fd);
    if (self->wake[0] >= 0)
        close(self->wake[0]);
    if (self->wake[1] >= 0)
        close(self->wake[1]);
    free(self->conns);
    free(self->pfds);
    free(self->hostname);
    SSL_CTX_free(self->tls_ctx);
    pthread_mutex_destroy(&self->stats_lock);
    free(self);
    *self_p = NULL;
}
