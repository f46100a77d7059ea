/*  test_smtp_server - the SMTP/LMTP listener, spoken to over real sockets.

    Each test starts a server on an ephemeral loopback port with a deliver
    callback that records what it was handed, talks to it like a mail
    transfer agent would (including pipelined and hostile clients), and checks
    the replies and the delivered bytes. The last tests send mail with curl
    and with Python's smtplib to prove we interoperate with real clients.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../../../services/intake/smtp_server.h"

#define MAX_RCPT_SEEN 8

/* ------------------------------------------------------------- recorder */

typedef struct {
    pthread_mutex_t lock;
    int calls;
    int committed; /* set at the very end of the callback */
    char helo[256];
    char client_ip[64];
    char mail_from[300];
    char rcpt[MAX_RCPT_SEEN][300];
    size_t rcpt_count;
    int lmtp;
    int had_rcpt_replies;
    char *data;
    size_t len;
    /* what the callback does */
    int fail;
    int sleep_ms;
    const char *reply;
    const char *rcpt_reply[MAX_RCPT_SEEN];
} s_recorder_t;

static int s_deliver(void *ctx, const smtp_envelope_t *env, const char *data, size_t len,
                     char *reply, size_t replylen, char **rcpt_replies)
{
    s_recorder_t *rec = ctx;
    pthread_mutex_lock(&rec->lock);
    rec->calls++;
    snprintf(rec->helo, sizeof(rec->helo), "%s", env->helo);
    snprintf(rec->client_ip, sizeof(rec->client_ip), "%s", env->client_ip);
    snprintf(rec->mail_from, sizeof(rec->mail_from), "%s", env->mail_from);
    rec->rcpt_count = env->rcpt_count;
    for (size_t i = 0; i < env->rcpt_count && i < MAX_RCPT_SEEN; i++)
        snprintf(rec->rcpt[i], sizeof(rec->rcpt[i]), "%s", env->rcpt[i]);
    rec->lmtp = env->lmtp;
    rec->had_rcpt_replies = rcpt_replies != NULL;
    free(rec->data);
    rec->data = malloc(len + 1);
    memcpy(rec->data, data, len);
    rec->data[len] = '\0';
    rec->len = len;
    if (rec->reply)
        snprintf(reply, replylen, "%s", rec->reply);
    for (size_t i = 0; rcpt_replies && i < env->rcpt_count && i < MAX_RCPT_SEEN; i++)
        if (rec->rcpt_reply[i])
            snprintf(rcpt_replies[i], replylen, "%s", rec->rcpt_reply[i]);
    int fail = rec->fail, sleep_ms = rec->sleep_ms;
    pthread_mutex_unlock(&rec->lock);
    if (sleep_ms) {
        struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&rec->lock);
    rec->committed = 1;
    pthread_mutex_unlock(&rec->lock);
    return fail ? -1 : 0;
}

/* Refuses any recipient whose address starts with "nobody". */
static int s_rcpt_check(void *ctx, const smtp_envelope_t *env, const char *rcpt, char *reply,
                        size_t replylen)
{
    (void)ctx, (void)env;
    if (strncmp(rcpt, "nobody", 6) != 0)
        return 0;
    snprintf(reply, replylen, "550 5.1.1 <%s> is not a service desk mailbox", rcpt);
    return -1;
}

/* -------------------------------------------------------------- fixture */

typedef struct {
    s_recorder_t rec;
    smtp_server_config_t cfg;
    smtp_server_t *server;
    int port;
} s_fixture_t;

static int s_setup(void **state)
{
    s_fixture_t *fx = calloc(1, sizeof(*fx));
    pthread_mutex_init(&fx->rec.lock, NULL);
    fx->rec.reply = "250 2.0.0 CS-2026-000123 created";
    fx->cfg.bind_addr = "127.0.0.1";
    fx->cfg.hostname = "intake.test";
    fx->cfg.max_message_bytes = 64 * 1024;
    fx->cfg.max_recipients = 5;
    fx->cfg.deliver = s_deliver;
    fx->cfg.deliver_ctx = &fx->rec;
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fixture_t *fx = *state;
    smtp_server_destroy(&fx->server);
    free(fx->rec.data);
    pthread_mutex_destroy(&fx->rec.lock);
    free(fx);
    return 0;
}

static void s_start(s_fixture_t *fx)
{
    char err[256] = "";
    fx->server = smtp_server_new(&fx->cfg, err, sizeof(err));
    if (!fx->server)
        fail_msg("smtp_server_new: %s", err);
    assert_int_equal(smtp_server_start(fx->server), 0);
    fx->port = smtp_server_port(fx->server);
    assert_true(fx->port > 0);
}

/* --------------------------------------------------------------- client */

typedef struct {
    int fd;
    char buf[256 * 1024];
    size_t len;
} s_client_t;

static s_client_t *s_connect(int port)
{
    s_client_t *cl = calloc(1, sizeof(*cl));
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cl->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {5, 0};
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return cl;
}

/* Connects from a chosen loopback source address (all of 127/8 is local on
   Linux), so a test can be two different clients. */
static s_client_t *s_connect_from(int port, const char *source_ip)
{
    s_client_t *cl = calloc(1, sizeof(*cl));
    cl->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(cl->fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, source_ip, &src.sin_addr), 1);
    assert_int_equal(bind(cl->fd, (struct sockaddr *)&src, sizeof(src)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {5, 0};
    setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(cl->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return cl;
}

static void s_close(s_client_t **cl_p)
{
    if (*cl_p) {
        close((*cl_p)->fd);
        free(*cl_p);
        *cl_p = NULL;
    }
}

static void s_send_bytes(s_client_t *cl, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void s_send(s_client_t *cl, const char *text)
{
    s_send_bytes(cl, text, strlen(text));
}

/* Reads one line (without CRLF) into line; -1 on EOF, error or timeout. */
static int s_read_line(s_client_t *cl, char *line, size_t linelen)
{
    for (;;) {
        char *lf = memchr(cl->buf, '\n', cl->len);
        if (lf) {
            size_t n = (size_t)(lf - cl->buf);
            size_t copy = n && lf[-1] == '\r' ? n - 1 : n;
            if (copy >= linelen)
                copy = linelen - 1;
            memcpy(line, cl->buf, copy);
            line[copy] = '\0';
            memmove(cl->buf, lf + 1, cl->len - n - 1);
            cl->len -= n + 1;
            return 0;
        }
        if (cl->len == sizeof(cl->buf))
            return -1;
        ssize_t r = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);
        if (r <= 0)
            return -1;
        cl->len += (size_t)r;
    }
}

/* Reads one whole (possibly multi-line) reply; returns its code, -1 on EOF.
   The last line goes to last (when given); all lines are joined in all. */
static int s_reply_full(s_client_t *cl, char *last, size_t lastlen, char *all, size_t alllen)
{
    char line[1024];
    if (all)
        all[0] = '\0';
    for (;;) {
        if (s_read_line(cl, line, sizeof(line)) != 0)
            return -1;
        if (all)
            snprintf(all + strlen(all), alllen - strlen(all), "%s\n", line);
        if (strlen(line) >= 3 && line[3] != '-') {
            if (last) {
                size_t n = strlen(line) < lastlen ? strlen(line) : lastlen - 1;
                memcpy(last, line, n);
                last[n] = 0;
            }
            return atoi(line);
        }
    }
}

static int s_reply(s_client_t *cl, char *last, size_t lastlen)
{
    return s_reply_full(cl, last, lastlen, NULL, 0);
}

static int s_code(s_client_t *cl)
{
    return s_reply(cl, NULL, 0);
}

/* True when the server has closed the session (EOF after any pending bytes). */
static int s_closed_by_server(s_client_t *cl)
{
    char tmp[4096];
    for (;;) {
        ssize_t r = recv(cl->fd, tmp, sizeof(tmp), 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 1;
        if (r < 0)
            return 0; /* timeout: still open */
    }
}

/* Connects, reads the greeting and says EHLO (or LHLO). */
static s_client_t *s_session(s_fixture_t *fx, const char *hello)
{
    s_client_t *cl = s_connect(fx->port);
    assert_int_equal(s_code(cl), 220);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "%s client.example\r\n", hello);
    s_send(cl, cmd);
    assert_int_equal(s_code(cl), 250);
    return cl;
}

static int s_cmd(s_client_t *cl, const char *text)
{
    s_send(cl, text);
    return s_code(cl);
}

static int s_calls(s_fixture_t *fx)
{
    pthread_mutex_lock(&fx->rec.lock);
    int n = fx->rec.calls;
    pthread_mutex_unlock(&fx->rec.lock);
    return n;
}

/* ------------------------------------------------------------ the rules */

static void
test_full_transaction_delivers_envelope_and_message_then_sends_callback_reply(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<alice@customer.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<service@petrocs.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<complaints@petrocs.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "Subject: pump leak\r\n\r\nThe pump at site 7 leaks.\r\n.\r\n");
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 250);
    assert_string_equal(reply, "250 2.0.0 CS-2026-000123 created");
    assert_int_equal(s_cmd(cl, "QUIT\r\n"), 221);
    assert_true(s_closed_by_server(cl));
    s_close(&cl);

    assert_int_equal(fx->rec.calls, 1);
    assert_string_equal(fx->rec.helo, "client.example");
    assert_string_equal(fx->rec.client_ip, "127.0.0.1");
    assert_string_equal(fx->rec.mail_from, "alice@customer.example");
    assert_int_equal(fx->rec.rcpt_count, 2);
    assert_string_equal(fx->rec.rcpt[0], "service@petrocs.example");
    assert_string_equal(fx->rec.rcpt[1], "complaints@petrocs.example");
    assert_int_equal(fx->rec.lmtp, 0);
    assert_int_equal(fx->rec.had_rcpt_replies, 0);
    assert_string_equal(fx->rec.data, "Subject: pump leak\r\n\r\nThe pump at site 7 leaks.\r\n");
}

static void
test_ehlo_advertises_pipelining_size_8bitmime_enhancedstatuscodes_not_starttls(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_connect(fx->port);
    char greeting[256];
    assert_int_equal(s_reply(cl, greeting, sizeof(greeting)), 220);
    assert_non_null(strstr(greeting, "intake.test"));
    s_send(cl, "EHLO client.example\r\n");
    char all[2048];
    assert_int_equal(s_reply_full(cl, NULL, 0, all, sizeof(all)), 250);
    assert_non_null(strstr(all, "250-PIPELINING\n"));
    assert_non_null(strstr(all, "250-SIZE 65536\n"));
    assert_non_null(strstr(all, "250-8BITMIME\n"));
    assert_non_null(strstr(all, "250 ENHANCEDSTATUSCODES\n"));
    assert_null(strstr(all, "STARTTLS"));
    s_send(cl, "HELO client.example\r\n");
    assert_int_equal(s_reply_full(cl, NULL, 0, all, sizeof(all)), 250);
    assert_string_equal(all, "250 intake.test\n");
    s_close(&cl);
}

static void test_dot_stuffed_lines_are_unstuffed_and_bare_lf_is_stored_as_crlf(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "line one\r\n..\r\n...two dots\r\n.x\nbare lf line\n\r\n.\r\n");
    assert_int_equal(s_code(cl), 250);
    assert_string_equal(fx->rec.data, "line one\r\n.\r\n..two dots\r\nx\r\nbare lf line\r\n\r\n");
    /* a lone "." after a bare LF ends the message too */
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "unix mail\n.\n");
    assert_int_equal(s_code(cl), 250);
    assert_string_equal(fx->rec.data, "unix mail\r\n");
    s_close(&cl);
}

static void test_pipelined_commands_in_one_write_get_replies_in_order(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_connect(fx->port);
    assert_int_equal(s_code(cl), 220);
    s_send(cl, "EHLO client.example\r\nMAIL FROM:<a@x.example> SIZE=40 BODY=8BITMIME\r\n"
               "RCPT TO:<b@y.example>\r\nRCPT TO:<nobody@y.example>\r\n"
               "RCPT TO:<c@y.example>\r\nDATA\r\n");
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 354);
    s_send(cl, "Subject: pipelined\r\n\r\nbody\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n");
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(s_code(cl), 221);
    assert_true(s_closed_by_server(cl));
    assert_int_equal(fx->rec.rcpt_count, 3);
    assert_string_equal(fx->rec.data, "Subject: pipelined\r\n\r\nbody\r\n");
    s_close(&cl);
}

static void test_size_parameter_over_the_limit_is_refused_with_552(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    char reply[600];
    s_send(cl, "MAIL FROM:<a@x.example> SIZE=65537\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 552);
    assert_memory_equal(reply, "552 5.3.4", 9);
    /* a size too big to count is a well-formed request for too much */
    s_send(cl, "MAIL FROM:<a@x.example> SIZE=99999999999999999999999999\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 552);
    assert_memory_equal(reply, "552 5.3.4", 9);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example> SIZE=12a\r\n"), 501);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example> SIZE=65536\r\n"), 250);
    s_close(&cl);
}

static void
test_message_over_the_limit_is_read_to_its_end_refused_552_and_session_goes_on(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_message_bytes = 1000;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    char line[102];
    memset(line, 'z', 100);
    memcpy(line + 100, "\r\n", 2);
    for (int i = 0; i < 50; i++) /* 5100 bytes */
        s_send_bytes(cl, line, sizeof(line));
    s_send(cl, "MAIL FROM:<not-a-command@x.example>\r\n.\r\n");
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 552);
    assert_memory_equal(reply, "552 5.3.4", 9);
    assert_int_equal(s_calls(fx), 0);
    /* exactly at the limit is fine, and the session still works */
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    char body[1000];
    memset(body, 'q', sizeof(body));
    memcpy(body + sizeof(body) - 2, "\r\n", 2);
    s_send_bytes(cl, body, sizeof(body));
    s_send(cl, ".\r\n");
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(fx->rec.len, 1000);
    s_close(&cl);
}

static void test_recipient_beyond_the_maximum_gets_452_and_the_rest_are_delivered(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    char cmd[64], reply[600];
    for (int i = 0; i < 5; i++) {
        snprintf(cmd, sizeof(cmd), "RCPT TO:<r%d@y.example>\r\n", i);
        assert_int_equal(s_cmd(cl, cmd), 250);
    }
    s_send(cl, "RCPT TO:<r5@y.example>\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 452);
    assert_memory_equal(reply, "452 4.5.3", 9);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, "hi\r\n.\r\n"), 250);
    assert_int_equal(fx->rec.rcpt_count, 5);
    assert_string_equal(fx->rec.rcpt[4], "r4@y.example");
    s_close(&cl);
}

static void test_rset_clears_the_envelope(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<first@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<old@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RSET\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 503);
    assert_int_equal(s_cmd(cl, "RCPT TO:<old@y.example>\r\n"), 503);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<second@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<new@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, "x\r\n.\r\n"), 250);
    assert_string_equal(fx->rec.mail_from, "second@x.example");
    assert_int_equal(fx->rec.rcpt_count, 1);
    assert_string_equal(fx->rec.rcpt[0], "new@y.example");
    s_close(&cl);
}

static void test_commands_out_of_sequence_get_503(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_connect(fx->port);
    assert_int_equal(s_code(cl), 220);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 503);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 503);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 503);
    assert_int_equal(s_cmd(cl, "NOOP\r\n"), 250); /* allowed before EHLO */
    assert_int_equal(s_cmd(cl, "EHLO client.example\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 503);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 503);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 503);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 503);
    assert_int_equal(s_calls(fx), 0);
    s_close(&cl);
}

static void test_unknown_verbs_get_500_bad_syntax_501_and_verbs_are_case_insensitive(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_errors = 20; /* this test makes more than the default 10 on purpose */
    s_start(fx);
    s_client_t *cl = s_connect(fx->port);
    assert_int_equal(s_code(cl), 220);
    assert_int_equal(s_cmd(cl, "FROB now\r\n"), 500);
    assert_int_equal(s_cmd(cl, "EHLO\r\n"), 501);
    assert_int_equal(s_cmd(cl, "EHLO bad\x01host\r\n"), 501);
    assert_int_equal(s_cmd(cl, "ehlo client.example\r\n"), 250);
    assert_int_equal(s_cmd(cl, "mail from:a@x.example\r\n"), 501);
    assert_int_equal(s_cmd(cl, "MAIL TO:<a@x.example>\r\n"), 501);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example> FROB=1\r\n"), 555);
    assert_int_equal(s_cmd(cl, "mail from:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<>\r\n"), 501);
    assert_int_equal(s_cmd(cl, "RCPT TO:<no domain>\r\n"), 501);
    assert_int_equal(s_cmd(cl, "RCPT TO:<\"a\\\x02\"@y.example>\r\n"), 501);
    assert_int_equal(s_cmd(cl, "RCPT TO:<\"odd > quoted\"@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "rCpT tO:<Postmaster>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<@relay.example:c@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "Vrfy someone\r\n"), 252);
    assert_int_equal(s_cmd(cl, "help\r\n"), 214);
    assert_int_equal(s_cmd(cl, "STARTTLS\r\n"), 502);
    assert_int_equal(s_cmd(cl, "DATA now\r\n"), 501);
    assert_int_equal(s_cmd(cl, "data\r\n"), 354);
    assert_int_equal(s_cmd(cl, ".\r\n"), 250);
    assert_int_equal(fx->rec.rcpt_count, 3);
    assert_string_equal(fx->rec.rcpt[0], "\"odd > quoted\"@y.example");
    assert_string_equal(fx->rec.rcpt[1], "Postmaster");
    assert_string_equal(fx->rec.rcpt[2], "c@y.example");
    assert_int_equal(fx->rec.len, 0);
    assert_int_equal(s_cmd(cl, "quit\r\n"), 221);
    s_close(&cl);
}

static void test_address_with_two_at_signs_is_refused_501_but_a_quoted_at_is_fine(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_errors = 20;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    char reply[600];
    s_send(cl, "MAIL FROM:<a@b@c>\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 501);
    assert_memory_equal(reply, "501 5.1.7", 9);
    s_send(cl, "MAIL FROM:<a@b\"@\"c.example>\r\n"); /* quotes only count as a whole local part */
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 501);
    assert_memory_equal(reply, "501 5.1.7", 9);
    s_send(cl, "MAIL FROM:<\"x@y\">\r\n"); /* the only '@' is quoted: no domain */
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 501);
    assert_memory_equal(reply, "501 5.1.7", 9);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<\"a@b\"@customer.example>\r\n"), 250);
    s_send(cl, "RCPT TO:<x@y@z.example>\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 501);
    assert_memory_equal(reply, "501 5.1.3", 9);
    s_send(cl, "RCPT TO:<@relay.example:x@y@z.example>\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 501);
    assert_memory_equal(reply, "501 5.1.3", 9);
    assert_int_equal(s_cmd(cl, "RCPT TO:<\"p@q\\\"@\"@petrocs.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, ".\r\n"), 250);
    assert_string_equal(fx->rec.mail_from, "\"a@b\"@customer.example");
    assert_int_equal(fx->rec.rcpt_count, 1);
    assert_string_equal(fx->rec.rcpt[0], "\"p@q\\\"@\"@petrocs.example");
    s_close(&cl);
}

static void test_null_sender_is_accepted_as_empty_reverse_path(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "HELO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, "bounce\r\n.\r\n"), 250);
    assert_string_equal(fx->rec.mail_from, "");
    s_close(&cl);
}

static void test_command_line_over_512_bytes_gets_500_5_5_2_and_session_goes_on(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    char line[600];
    memset(line, 'a', sizeof(line));
    memcpy(line, "NOOP ", 5);
    memcpy(line + 509, "\r\n", 2); /* 511 bytes with CRLF: allowed */
    s_send_bytes(cl, line, 511);
    assert_int_equal(s_code(cl), 250);
    memset(line, 'a', sizeof(line));
    memcpy(line, "NOOP ", 5);
    memcpy(line + 511, "\r\n", 2); /* 513 bytes: too long */
    s_send_bytes(cl, line, 513);
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 500);
    assert_memory_equal(reply, "500 5.5.2", 9);
    /* a huge line is skipped without being buffered */
    char *huge = malloc(100000);
    memset(huge, 'b', 100000);
    s_send_bytes(cl, huge, 100000);
    free(huge);
    s_send(cl, "\r\nNOOP\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 500);
    assert_memory_equal(reply, "500 5.5.2", 9);
    assert_int_equal(s_code(cl), 250);
    s_close(&cl);
}

static void test_long_text_lines_in_data_are_delivered_whole(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_message_bytes = 200000;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    size_t n = 70000;
    char *text = malloc(n + 16);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    text[0] = '.'; /* stuffed dot at the start of a long line */
    text[1] = '.';
    text[8191] = '\r'; /* a bare CR inside the line stays */
    memcpy(text + n, "\r\n.\r\n", 5);
    s_send_bytes(cl, text, n + 5);
    assert_int_equal(s_code(cl), 250);
    assert_int_equal(fx->rec.len, n + 1); /* one dot removed, CRLF added */
    assert_memory_equal(fx->rec.data, text + 1, n - 1);
    assert_memory_equal(fx->rec.data + n - 1, "\r\n", 2);
    free(text);
    s_close(&cl);
}

static void test_lmtp_sends_one_reply_per_recipient_after_data(void **state)
{
    s_fixture_t *fx = *state;
    fx->rec.reply = "250 2.0.0 CS-2026-000200 created";
    fx->rec.rcpt_reply[1] = "550 5.1.1 team mailbox closed";
    s_start(fx);
    s_client_t *cl = s_session(fx, "LHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<service@petrocs.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<old-team@petrocs.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "Subject: lmtp\r\n\r\nhello\r\n.\r\n");
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 250);
    assert_string_equal(reply, "250 2.0.0 CS-2026-000200 created");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 550);
    assert_string_equal(reply, "550 5.1.1 team mailbox closed");
    assert_int_equal(s_cmd(cl, "NOOP\r\n"), 250); /* nothing more was queued */
    assert_int_equal(fx->rec.lmtp, 1);
    assert_int_equal(fx->rec.had_rcpt_replies, 1);
    s_close(&cl);
}

static void test_deliver_failure_gives_451_temporary_to_every_recipient(void **state)
{
    s_fixture_t *fx = *state;
    fx->rec.fail = 1;
    s_start(fx);
    char reply[600];
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "x\r\n.\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 451);
    assert_memory_equal(reply, "451 4.3.0", 9);
    s_close(&cl);

    cl = s_session(fx, "LHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<c@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "x\r\n.\r\n");
    assert_int_equal(s_code(cl), 451);
    assert_int_equal(s_code(cl), 451);
    s_close(&cl);
}

static void test_malformed_callback_reply_is_replaced_by_451(void **state)
{
    s_fixture_t *fx = *state;
    fx->rec.reply = "250 ok\r\n250 smuggled";
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, "x\r\n.\r\n"), 451);
    assert_int_equal(s_cmd(cl, "NOOP\r\n"), 250);
    s_close(&cl);
}

static void test_250_after_data_is_sent_only_after_deliver_returned(void **state)
{
    s_fixture_t *fx = *state;
    fx->rec.sleep_ms = 300;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, "x\r\n.\r\n"), 250);
    pthread_mutex_lock(&fx->rec.lock);
    int committed = fx->rec.committed;
    pthread_mutex_unlock(&fx->rec.lock);
    assert_int_equal(committed, 1);
    s_close(&cl);
}

static void test_rcpt_check_refusal_is_sent_at_rcpt_time(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.rcpt_check = s_rcpt_check;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    char reply[600];
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    s_send(cl, "RCPT TO:<nobody@petrocs.example>\r\n");
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 550);
    assert_string_equal(reply, "550 5.1.1 <nobody@petrocs.example> is not a service desk mailbox");
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 503);
    assert_int_equal(s_cmd(cl, "RCPT TO:<service@petrocs.example>\r\n"), 250);
    s_close(&cl);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.recipients_rejected, 1);
}

static void test_connections_beyond_the_maximum_get_421_and_are_closed(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_connections = 2;
    s_start(fx);
    s_client_t *a = s_connect(fx->port), *b = s_connect(fx->port);
    assert_int_equal(s_code(a), 220);
    assert_int_equal(s_code(b), 220);
    s_client_t *c = s_connect(fx->port);
    char reply[600];
    assert_int_equal(s_reply(c, reply, sizeof(reply)), 421);
    assert_memory_equal(reply, "421 4.7.0", 9);
    assert_true(s_closed_by_server(c));
    s_close(&c);
    assert_int_equal(s_cmd(a, "QUIT\r\n"), 221);
    assert_true(s_closed_by_server(a));
    s_close(&a);
    c = s_connect(fx->port); /* a slot is free again */
    assert_int_equal(s_code(c), 220);
    s_close(&b);
    s_close(&c);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.connections_refused, 1);
    assert_int_equal(st.connections_total, 3);
}

static void
test_one_address_beyond_20_connections_gets_421_while_other_addresses_still_connect(void **state)
{
    s_fixture_t *fx = *state; /* max_connections stays at its default 100 */
    s_start(fx);
    s_client_t *mine[20];
    for (int i = 0; i < 20; i++) {
        mine[i] = s_connect(fx->port);
        assert_int_equal(s_code(mine[i]), 220);
    }
    s_client_t *extra = s_connect(fx->port);
    char reply[600];
    assert_int_equal(s_reply(extra, reply, sizeof(reply)), 421);
    assert_string_equal(reply, "421 4.7.0 too many connections from your address");
    assert_true(s_closed_by_server(extra));
    s_close(&extra);

    s_client_t *other = s_connect_from(fx->port, "127.0.0.2");
    assert_int_equal(s_code(other), 220);
    assert_int_equal(s_cmd(other, "EHLO other.example\r\n"), 250);
    s_close(&other);

    assert_int_equal(s_cmd(mine[0], "QUIT\r\n"), 221);
    assert_true(s_closed_by_server(mine[0]));
    s_close(&mine[0]);
    extra = s_connect(fx->port); /* one of this address's slots is free again */
    assert_int_equal(s_code(extra), 220);
    s_close(&extra);
    for (int i = 1; i < 20; i++)
        s_close(&mine[i]);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.connections_refused, 1);
}

static void test_max_connections_per_ip_is_configurable(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_connections_per_ip = 2;
    s_start(fx);
    s_client_t *a = s_connect(fx->port), *b = s_connect(fx->port);
    assert_int_equal(s_code(a), 220);
    assert_int_equal(s_code(b), 220);
    s_client_t *c = s_connect(fx->port);
    char reply[600];
    assert_int_equal(s_reply(c, reply, sizeof(reply)), 421);
    assert_memory_equal(reply, "421 4.7.0", 9);
    assert_true(s_closed_by_server(c));
    s_close(&c);
    c = s_connect_from(fx->port, "127.0.0.3");
    assert_int_equal(s_code(c), 220);
    s_close(&a);
    s_close(&b);
    s_close(&c);
}

static int64_t s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void
test_session_that_never_says_ehlo_gets_421_after_greeting_timeout_greeted_one_stays(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.greeting_timeout_ms = 300;
    fx->cfg.idle_timeout_ms = 4000;
    s_start(fx);
    s_client_t *greeted = s_session(fx, "EHLO");
    s_client_t *silent = s_connect(fx->port);
    int64_t t0 = s_ms();
    assert_int_equal(s_code(silent), 220);
    char reply[600];
    assert_int_equal(s_reply(silent, reply, sizeof(reply)), 421);
    assert_memory_equal(reply, "421 4.4.2", 9);
    assert_true(s_ms() - t0 < 3000); /* well before idle_timeout_ms */
    assert_true(s_closed_by_server(silent));
    s_close(&silent);
    /* the session that introduced itself is held to idle_timeout_ms only */
    s_sleep_ms(200);
    assert_int_equal(s_cmd(greeted, "NOOP\r\n"), 250);
    s_close(&greeted);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.timeouts, 1);
}

static void
test_greeting_timeout_counts_from_connect_so_noop_chatter_does_not_extend_it(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.greeting_timeout_ms = 300;
    fx->cfg.idle_timeout_ms = 4000;
    s_start(fx);
    s_client_t *cl = s_connect(fx->port);
    assert_int_equal(s_code(cl), 220);
    int code = 0;
    for (int i = 0; i < 20 && code != 421; i++) {
        s_sleep_ms(60);
        ssize_t rc = send(cl->fd, "NOOP\r\n", 6, MSG_NOSIGNAL);
        (void)rc; /* the server may have closed already; the reply tells */
        code = s_code(cl);
    }
    assert_int_equal(code, 421);
    assert_true(s_closed_by_server(cl));
    s_close(&cl);
}

static void test_too_many_errors_end_the_session_with_421(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_connect(fx->port);
    assert_int_equal(s_code(cl), 220);
    for (int i = 0; i < 10; i++)
        s_send(cl, "GARBAGE\r\n");
    for (int i = 0; i < 10; i++)
        assert_int_equal(s_code(cl), 500);
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 421);
    assert_memory_equal(reply, "421 4.7.0", 9);
    assert_true(s_closed_by_server(cl));
    s_close(&cl);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.protocol_errors, 10);
}

static void test_idle_session_gets_421_after_the_timeout(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.idle_timeout_ms = 200;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 421);
    assert_memory_equal(reply, "421 4.4.2", 9);
    assert_true(s_closed_by_server(cl));
    s_close(&cl);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.timeouts, 1);
}

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;
static uint64_t s_random(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

/* Sends len bytes while draining replies, until sent or the server closes. */
static void s_blast(s_client_t *cl, const char *data, size_t len)
{
    size_t off = 0;
    time_t until = time(NULL) + 10;
    char sink[65536];
    while (off < len && time(NULL) < until) {
        struct pollfd pfd = {cl->fd, POLLIN | POLLOUT, 0};
        if (poll(&pfd, 1, 1000) <= 0)
            continue;
        if (pfd.revents & POLLIN) {
            ssize_t r = recv(cl->fd, sink, sizeof(sink), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                return;
        }
        if (pfd.revents & POLLOUT) {
            ssize_t n = send(cl->fd, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN)
                return;
            if (n > 0)
                off += (size_t)n;
        }
        if (pfd.revents & (POLLERR | POLLHUP))
            return;
    }
}

/* Sends all of data while reading replies; returns how many reply lines
   starting with code_prefix arrived before `expect` lines were seen. */
static int s_flood_count(s_client_t *cl, const char *data, size_t len, const char *code_prefix,
                         int expect)
{
    size_t off = 0;
    int seen = 0, other = 0;
    time_t until = time(NULL) + 20;
    while ((off < len || seen + other < expect) && time(NULL) < until) {
        struct pollfd pfd = {cl->fd, POLLIN | (off < len ? POLLOUT : 0), 0};
        if (poll(&pfd, 1, 1000) <= 0)
            continue;
        if (pfd.revents & POLLOUT) {
            ssize_t n = send(cl->fd, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
        }
        if (pfd.revents & POLLIN) {
            ssize_t r = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, MSG_DONTWAIT);
            if (r <= 0)
                break;
            cl->len += (size_t)r;
            char *lf;
            while ((lf = memchr(cl->buf, '\n', cl->len))) {
                size_t n = (size_t)(lf - cl->buf) + 1;
                if (strncmp(cl->buf, code_prefix, strlen(code_prefix)) == 0)
                    seen++;
                else
                    other++;
                memmove(cl->buf, lf + 1, cl->len - n);
                cl->len -= n;
            }
        }
    }
    return other ? -other : seen;
}

static void test_client_pipelining_thousands_of_commands_gets_every_reply(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    int count = 30000;
    size_t len = (size_t)count * 6;
    char *noops = malloc(len);
    for (int i = 0; i < count; i++)
        memcpy(noops + (size_t)i * 6, "NOOP\r\n", 6);
    assert_int_equal(s_flood_count(cl, noops, len, "250 ", count), count);
    free(noops);
    assert_int_equal(s_cmd(cl, "QUIT\r\n"), 221);
    s_close(&cl);
}

static void test_binary_junk_never_crashes_the_server(void **state)
{
    s_fixture_t *fx = *state;
    fx->cfg.max_errors = 100000;
    fx->cfg.max_message_bytes = 4096;
    s_start(fx);
    static const char *const words[] = {"EHLO x",
                                        "LHLO y",
                                        "HELO",
                                        "MAIL FROM:<",
                                        "MAIL FROM:<a@b> SIZE=",
                                        "RCPT TO:<",
                                        "RCPT TO:<\"q>\\\"\"@d>",
                                        "DATA",
                                        ".",
                                        "..",
                                        "RSET",
                                        "QUIT ",
                                        "\r",
                                        "\n",
                                        "\r\n",
                                        "<>",
                                        "BODY=8BITMIME",
                                        "\0",
                                        "\xff\xfe",
                                        "VRFY",
                                        "NOOP"};
    size_t len = 256 * 1024;
    char *junk = malloc(len);
    for (int round = 0; round < 6; round++) {
        size_t off = 0;
        while (off < len) {
            if (round % 2 == 0) {
                junk[off++] = (char)s_random();
            } else {
                const char *w = words[s_random() % (sizeof(words) / sizeof(words[0]))];
                size_t wl = w[0] ? strlen(w) : 1;
                if (off + wl > len)
                    break;
                memcpy(junk + off, w, wl);
                off += wl;
                if (s_random() % 3 == 0 && off + 2 <= len) {
                    memcpy(junk + off, "\r\n", 2);
                    off += 2;
                }
            }
        }
        s_client_t *cl = s_connect(fx->port);
        if (round >= 4)
            s_send(cl, "LHLO j\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n");
        s_blast(cl, junk, off);
        s_close(&cl);
    }
    free(junk);
    /* the server still serves a clean transaction */
    s_client_t *cl = s_session(fx, "EHLO");
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    assert_int_equal(s_cmd(cl, "after the storm\r\n.\r\n"), 250);
    assert_string_equal(fx->rec.data, "after the storm\r\n");
    s_close(&cl);
}

static void test_stats_count_sessions_messages_by_reply_class_and_errors(void **state)
{
    s_fixture_t *fx = *state;
    fx->rec.rcpt_reply[0] = "452 4.2.2 mailbox full";
    s_start(fx);
    s_client_t *cl = s_session(fx, "LHLO");
    assert_int_equal(s_cmd(cl, "FROB\r\n"), 500);
    assert_int_equal(s_cmd(cl, "MAIL FROM:<a@x.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<b@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "RCPT TO:<c@y.example>\r\n"), 250);
    assert_int_equal(s_cmd(cl, "DATA\r\n"), 354);
    s_send(cl, "x\r\n.\r\n");
    assert_int_equal(s_code(cl), 452);
    assert_int_equal(s_code(cl), 250);
    smtp_server_stats_t st;
    smtp_server_stats(fx->server, &st);
    assert_int_equal(st.connections_total, 1);
    assert_int_equal(st.connections_open, 1);
    assert_int_equal(st.messages_accepted, 1);
    assert_int_equal(st.messages_rejected_temp, 1);
    assert_int_equal(st.messages_rejected_perm, 0);
    assert_int_equal(st.protocol_errors, 1);
    s_close(&cl);
}

static void test_destroy_tells_open_sessions_421(void **state)
{
    s_fixture_t *fx = *state;
    s_start(fx);
    s_client_t *cl = s_session(fx, "EHLO");
    smtp_server_destroy(&fx->server);
    assert_null(fx->server);
    char reply[600];
    assert_int_equal(s_reply(cl, reply, sizeof(reply)), 421);
    assert_memory_equal(reply, "421 4.3.2", 9);
    assert_true(s_closed_by_server(cl));
    s_close(&cl);
    smtp_server_destroy(&fx->server); /* NULL is fine */
}

static void test_new_refuses_a_config_without_deliver_or_with_a_bad_address(void **state)
{
    s_fixture_t *fx = *state;
    char err[256] = "";
    smtp_server_config_t cfg = fx->cfg;
    cfg.deliver = NULL;
    assert_null(smtp_server_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "deliver"));
    cfg = fx->cfg;
    cfg.bind_addr = "300.1.1.1";
    assert_null(smtp_server_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "300.1.1.1"));
    cfg = fx->cfg;
    cfg.hostname = "bad host\r\n";
    assert_null(smtp_server_new(&cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "hostname"));
}

/* ------------------------------------------------------- real clients */

static const char s_interop_msg[] = "From: a@x.example\r\n"
                                    "To: b@y.example\r\n"
                                    "Subject: =?UTF-8?B?5rOE5ryP?=\r\n"
                                    "\r\n"
                                    "Valve 3 is leaking \xe6\xb3\x84\xe6\xbc\x8f.\r\n"
                                    ".leading dot line\r\n"
                                    ".\r\n"
                                    "..\r\n"
                                    "end\r\n";

static void s_write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static int s_have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static void test_curl_client_delivers_message_byte_for_byte(void **state)
{
    s_fixture_t *fx = *state;
    if (!s_have("curl"))
        skip();
    s_start(fx);
    char path[] = "/tmp/test_smtp_curl_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    s_write_file(path, s_interop_msg, sizeof(s_interop_msg) - 1);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "curl -sS --max-time 10 smtp://127.0.0.1:%d/client.example "
             "--mail-from a@x.example --mail-rcpt b@y.example --upload-file %s",
             fx->port, path);
    int rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_int_equal(fx->rec.calls, 1);
    assert_string_equal(fx->rec.mail_from, "a@x.example");
    assert_string_equal(fx->rec.rcpt[0], "b@y.example");
    assert_int_equal(fx->rec.len, sizeof(s_interop_msg) - 1);
    assert_memory_equal(fx->rec.data, s_interop_msg, sizeof(s_interop_msg) - 1);
}

static void test_python_smtplib_client_delivers_message_byte_for_byte(void **state)
{
    s_fixture_t *fx = *state;
    if (!s_have("python3"))
        skip();
    s_start(fx);
    char path[] = "/tmp/test_smtp_py_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    s_write_file(path, s_interop_msg, sizeof(s_interop_msg) - 1);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import smtplib, sys\n"
             "s = smtplib.SMTP(\"127.0.0.1\", int(sys.argv[1]), timeout=10)\n"
             "refused = s.sendmail(\"a@x.example\", [\"b@y.example\", \"c@y.example\"],\n"
             "    open(sys.argv[2], \"rb\").read(), mail_options=[\"BODY=8BITMIME\"])\n"
             "s.quit()\n"
             "sys.exit(1 if refused else 0)' %d %s",
             fx->port, path);
    int rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_int_equal(fx->rec.calls, 1);
    assert_int_equal(fx->rec.rcpt_count, 2);
    assert_string_equal(fx->rec.rcpt[1], "c@y.example");
    assert_int_equal(fx->rec.len, sizeof(s_interop_msg) - 1);
    assert_memory_equal(fx->rec.data, s_interop_msg, sizeof(s_interop_msg) - 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_full_transaction_delivers_envelope_and_message_then_sends_callback_reply),
        T(test_ehlo_advertises_pipelining_size_8bitmime_enhancedstatuscodes_not_starttls),
        T(test_dot_stuffed_lines_are_unstuffed_and_bare_lf_is_stored_as_crlf),
        T(test_pipelined_commands_in_one_write_get_replies_in_order),
        T(test_size_parameter_over_the_limit_is_refused_with_552),
        T(test_message_over_the_limit_is_read_to_its_end_refused_552_and_session_goes_on),
        T(test_recipient_beyond_the_maximum_gets_452_and_the_rest_are_delivered),
        T(test_rset_clears_the_envelope),
        T(test_commands_out_of_sequence_get_503),
        T(test_unknown_verbs_get_500_bad_syntax_501_and_verbs_are_case_insensitive),
        T(test_address_with_two_at_signs_is_refused_501_but_a_quoted_at_is_fine),
        T(test_null_sender_is_accepted_as_empty_reverse_path),
        T(test_command_line_over_512_bytes_gets_500_5_5_2_and_session_goes_on),
        T(test_long_text_lines_in_data_are_delivered_whole),
        T(test_lmtp_sends_one_reply_per_recipient_after_data),
        T(test_deliver_failure_gives_451_temporary_to_every_recipient),
        T(test_malformed_callback_reply_is_replaced_by_451),
        T(test_250_after_data_is_sent_only_after_deliver_returned),
        T(test_rcpt_check_refusal_is_sent_at_rcpt_time),
        T(test_connections_beyond_the_maximum_get_421_and_are_closed),
        T(test_one_address_beyond_20_connections_gets_421_while_other_addresses_still_connect),
        T(test_max_connections_per_ip_is_configurable),
        T(test_session_that_never_says_ehlo_gets_421_after_greeting_timeout_greeted_one_stays),
        T(test_greeting_timeout_counts_from_connect_so_noop_chatter_does_not_extend_it),
        T(test_too_many_errors_end_the_session_with_421),
        T(test_idle_session_gets_421_after_the_timeout),
        T(test_client_pipelining_thousands_of_commands_gets_every_reply),
        T(test_binary_junk_never_crashes_the_server),
        T(test_stats_count_sessions_messages_by_reply_class_and_errors),
        T(test_destroy_tells_open_sessions_421),
        T(test_new_refuses_a_config_without_deliver_or_with_a_bad_address),
        T(test_curl_client_delivers_message_byte_for_byte),
        T(test_python_smtplib_client_delivers_message_byte_for_byte),
    };
#undef T
    return cmocka_run_group_tests_name("smtp_server", tests, NULL, NULL);
}
