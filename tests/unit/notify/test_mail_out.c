/*
 * test_mail_out — a letter leaves petrocs either as a maildir file or through an SMTP
 * relay.  The SMTP tests talk to a real server over loopback: smtp_sink.py, started
 * here, stores what it accepts and answers 4xx/5xx on command (by recipient name), so
 * every result code the retry queue depends on is produced by a real SMTP dialogue.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../services/notify/mail_out.h"

#ifndef SMTP_SINK_PATH
#define SMTP_SINK_PATH "tests/unit/notify/smtp_sink.py" /* run from the repository root */
#endif

static const char LETTER[] = "From: service@petrocs.example\r\n"
                             "To: li.wei@example.cn\r\n"
                             "Subject: [CS-2026-000123] test\r\n"
                             "Message-ID: <CS-2026-000123.1@petrocs.example>\r\n"
                             "\r\n"
                             "Line one.\r\n"
                             ".A line that starts with a dot must survive SMTP.\r\n"
                             "..and one with two.\r\n"
                             ".\r\n"
                             "end\r\n";

/* ---- helpers ------------------------------------------------------------------- */

static char *s_tempdir(void)
{
    char *dir = strdup("/tmp/test_mail_out.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void s_remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static size_t s_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len >= strlen(suffix) &&
            strcmp(e->d_name + len - strlen(suffix), suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static char *s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* ---- the SMTP sink ---------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int to_sink; /* its stdin: closing it tells the sink to stop */
    int port;
    char *spool;
} s_sink_t;

static s_sink_t *s_sink_start(const char *auth)
{
    s_sink_t *sink = calloc(1, sizeof(*sink));
    sink->spool = s_tempdir();
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    sink->pid = fork();
    assert_true(sink->pid >= 0);
    if (sink->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        if (auth)
            execlp("python3", "python3", SMTP_SINK_PATH, "--spool", sink->spool, "--auth", auth,
                   (char *)NULL);
        else
            execlp("python3", "python3", SMTP_SINK_PATH, "--spool", sink->spool, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    sink->to_sink = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[64] = "";
    if (!fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &sink->port) != 1)
        fail_msg("smtp_sink did not start (python3 %s)", SMTP_SINK_PATH);
    fclose(f);
    return sink;
}

static void s_sink_stop(s_sink_t *sink)
{
    close(sink->to_sink);
    int status;
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 300 && waitpid(sink->pid, &status, WNOHANG) == 0; i++)
        nanosleep(&pause, NULL);
    if (waitpid(sink->pid, &status, WNOHANG) == 0) {
        kill(sink->pid, SIGTERM);
        waitpid(sink->pid, &status, 0);
    }
    s_remove_dir(sink->spool);
    free(sink);
}

static int s_group_setup(void **state)
{
    if (mail_out_init())
        return -1;
    *state = s_sink_start(NULL);
    return 0;
}

static int s_group_teardown(void **state)
{
    s_sink_stop(*state);
    mail_out_shutdown();
    return 0;
}

static mail_out_smtp_config_t s_config(int port, char *url, size_t url_len)
{
    snprintf(url, url_len, "smtp://127.0.0.1:%d", port);
    mail_out_smtp_config_t cfg = {
        .url = url,
        .helo = "notify.petrocs.example",
        .starttls = MAIL_OUT_STARTTLS_OPTIONAL,
        .connect_timeout_ms = 2000,
        .timeout_ms = 10000,
    };
    return cfg;
}

static int s_send_to(s_sink_t *sink, const char *rcpt, char *reply, size_t reply_len, char *err,
                     size_t errlen)
{
    char url[64];
    mail_out_smtp_config_t cfg = s_config(sink->port, url, sizeof(url));
    const char *rcpts[] = {rcpt};
    return mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER, strlen(LETTER), reply,
                         reply_len, err, errlen);
}

/* ---- maildir ------------------------------------------------------------------------ */

static void test_maildir_delivery_lands_in_new_and_leaves_nothing_in_tmp(void **state)
{
    (void)state;
    char *root = s_tempdir();
    char maildir[600], path[1024], err[256] = "";
    snprintf(maildir, sizeof(maildir), "%s/outbound", root);
    assert_int_equal(
        mail_out_maildir(maildir, LETTER, strlen(LETTER), path, sizeof(path), err, sizeof(err)), 0);
    char new_dir[700], tmp_dir[700], cur_dir[700];
    snprintf(new_dir, sizeof(new_dir), "%s/new", maildir);
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", maildir);
    snprintf(cur_dir, sizeof(cur_dir), "%s/cur", maildir);
    assert_memory_equal(path, new_dir, strlen(new_dir));
    assert_int_equal(s_count_files(new_dir, ""), 1);
    assert_int_equal(s_count_files(tmp_dir, ""), 0);
    assert_int_equal(s_count_files(cur_dir, ""), 0);
    size_t len;
    char *stored = s_read_file(path, &len);
    assert_int_equal(len, strlen(LETTER));
    assert_memory_equal(stored, LETTER, len);
    free(stored);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    s_remove_dir(root);
}

static void test_maildir_gives_every_letter_its_own_file(void **state)
{
    (void)state;
    char *root = s_tempdir();
    char path_a[1024], path_b[1024], err[256];
    for (int i = 0; i < 50; i++)
        assert_int_equal(mail_out_maildir(root, LETTER, strlen(LETTER), path_a, sizeof(path_a), err,
                                          sizeof(err)),
                         0);
    assert_int_equal(mail_out_maildir(root, "x", 1, path_b, sizeof(path_b), err, sizeof(err)), 0);
    assert_string_not_equal(path_a, path_b);
    char new_dir[700];
    snprintf(new_dir, sizeof(new_dir), "%s/new", root);
    assert_int_equal(s_count_files(new_dir, ""), 51);
    s_remove_dir(root);
}

static void test_maildir_refuses_empty_message_and_unusable_directory(void **state)
{
    (void)state;
    char *root = s_tempdir();
    char path[1024], err[256] = "";
    assert_int_equal(mail_out_maildir(root, LETTER, 0, path, sizeof(path), err, sizeof(err)), -1);
    assert_string_equal(err, "maildir: no directory or empty message");

    char file[700];
    snprintf(file, sizeof(file), "%s/plainfile", root);
    FILE *f = fopen(file, "w");
    fclose(f);
    assert_int_equal(
        mail_out_maildir(file, LETTER, strlen(LETTER), path, sizeof(path), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "maildir: cannot create directory"));

    char small[8];
    assert_int_equal(
        mail_out_maildir(root, LETTER, strlen(LETTER), small, sizeof(small), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "path buffer too small"));
    s_remove_dir(root);
}

/* ---- SMTP ------------------------------------------------------------------------- */

static void test_smtp_delivers_the_letter_byte_for_byte(void **state)
{
    s_sink_t *sink = *state;
    char reply[256], err[256] = "";
    size_t before = s_count_files(sink->spool, ".eml");
    assert_int_equal(s_send_to(sink, "li.wei@example.cn", reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_SENT);
    assert_memory_equal(reply, "250 2.0.0 Ok: queued as", 23);
    assert_int_equal(s_count_files(sink->spool, ".eml"), before + 1);
    char path[700];
    snprintf(path, sizeof(path), "%s/%zu.eml", sink->spool, before + 1);
    size_t len;
    char *stored = s_read_file(path, &len);
    assert_int_equal(len, strlen(LETTER));
    assert_memory_equal(stored, LETTER, len);
    free(stored);
    snprintf(path, sizeof(path), "%s/%zu.env", sink->spool, before + 1);
    char *env = s_read_file(path, &len);
    assert_string_equal(env, "MAIL <service@petrocs.example>\nRCPT <li.wei@example.cn>\n");
    free(env);
}

static void test_smtp_sends_to_every_recipient_in_one_transaction(void **state)
{
    s_sink_t *sink = *state;
    char url[64], reply[256], err[256] = "";
    mail_out_smtp_config_t cfg = s_config(sink->port, url, sizeof(url));
    const char *rcpts[] = {"li.wei@example.cn", "ops@petrocs.example"};
    size_t before = s_count_files(sink->spool, ".eml");
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 2, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_SENT);
    char path[700];
    snprintf(path, sizeof(path), "%s/%zu.env", sink->spool, before + 1);
    size_t len;
    char *env = s_read_file(path, &len);
    assert_string_equal(env, "MAIL <service@petrocs.example>\nRCPT <li.wei@example.cn>\n"
                             "RCPT <ops@petrocs.example>\n");
    free(env);
}

static void test_smtp_451_is_temporary_so_the_letter_is_retried(void **state)
{
    s_sink_t *sink = *state;
    char reply[256], err[256] = "";
    size_t before = s_count_files(sink->spool, ".eml");
    assert_int_equal(s_send_to(sink, "tempfail@example.cn", reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_TEMPORARY);
    assert_string_equal(reply, "451 4.3.0 Mailbox temporarily unavailable, try again later");
    assert_non_null(strstr(err, "451 4.3.0"));
    assert_int_equal(s_count_files(sink->spool, ".eml"), before);
}

static void test_smtp_550_is_permanent_so_the_letter_is_not_retried(void **state)
{
    s_sink_t *sink = *state;
    char reply[256], err[256] = "";
    assert_int_equal(s_send_to(sink, "reject@example.cn", reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(reply, "550 5.1.1 No such mailbox here");
}

static void test_smtp_reply_after_data_decides_the_same_way(void **state)
{
    s_sink_t *sink = *state;
    char reply[256], err[256] = "";
    assert_int_equal(s_send_to(sink, "datafail@example.cn", reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(reply, "554 5.6.0 Message content rejected");
    assert_int_equal(s_send_to(sink, "datatemp@example.cn", reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_TEMPORARY);
    assert_string_equal(reply, "452 4.3.1 Insufficient system storage");
}

static void test_smtp_connection_refused_is_temporary(void **state)
{
    (void)state;
    /* a port that was free a moment ago: bind, read the number, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    char url[64], reply[256] = "x", err[256] = "";
    mail_out_smtp_config_t cfg = s_config(ntohs(a.sin_port), url, sizeof(url));
    const char *rcpts[] = {"li.wei@example.cn"};
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_TEMPORARY);
    assert_string_equal(reply, "");
    assert_non_null(strstr(err, "smtp: Couldn't connect to server"));
}

static void test_smtp_silent_relay_times_out_as_temporary(void **state)
{
    (void)state;
    /* listens (the kernel completes the handshake) but never says 220 */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char url[64], reply[256], err[256] = "";
    mail_out_smtp_config_t cfg = s_config(ntohs(a.sin_port), url, sizeof(url));
    cfg.timeout_ms = 500;
    const char *rcpts[] = {"li.wei@example.cn"};
    time_t start = time(NULL);
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_TEMPORARY);
    assert_true(time(NULL) - start <= 3);
    assert_non_null(strstr(err, "Timeout"));
    close(fd);
}

static void test_smtp_required_starttls_never_sends_in_clear(void **state)
{
    s_sink_t *sink = *state;
    char url[64], reply[256], err[256] = "";
    mail_out_smtp_config_t cfg = s_config(sink->port, url, sizeof(url));
    cfg.starttls = MAIL_OUT_STARTTLS_REQUIRED;
    const char *rcpts[] = {"li.wei@example.cn"};
    size_t before = s_count_files(sink->spool, ".eml");
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_TEMPORARY);
    assert_non_null(strstr(err, "SSL"));
    assert_int_equal(s_count_files(sink->spool, ".eml"), before);
}

static void test_smtp_refuses_envelope_injection_and_bad_config_without_connecting(void **state)
{
    s_sink_t *sink = *state;
    char url[64], reply[256], err[256] = "";
    mail_out_smtp_config_t cfg = s_config(sink->port, url, sizeof(url));
    const char *evil[] = {"li.wei@example.cn>\r\nRCPT TO:<victim@example.com"};
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", evil, 1, LETTER, strlen(LETTER),
                                   reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(err, "smtp: recipient 1 is missing or malformed");
    const char *ok[] = {"li.wei@example.cn"};
    assert_int_equal(mail_out_smtp(&cfg, "bad sender@petrocs.example", ok, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(err, "smtp: envelope sender is missing or malformed");
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", ok, 0, LETTER, strlen(LETTER),
                                   reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    cfg.url = "http://127.0.0.1/";
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", ok, 1, LETTER, strlen(LETTER),
                                   reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(err, "smtp: relay url must start with smtp:// or smtps://");
}

static void test_smtp_auth_accepts_right_password_and_refusal_is_permanent(void **state)
{
    (void)state;
    s_sink_t *sink = s_sink_start("notify:s3cret");
    char url[64], reply[256], err[256] = "";
    mail_out_smtp_config_t cfg = s_config(sink->port, url, sizeof(url));
    const char *rcpts[] = {"li.wei@example.cn"};

    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(reply, "530 5.7.0 Authentication required");

    cfg.username = "notify";
    cfg.password = "wrong";
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_PERMANENT);
    assert_string_equal(reply, "535 5.7.8 Authentication credentials invalid");
    assert_null(strstr(err, "wrong"));

    cfg.password = "s3cret";
    assert_int_equal(mail_out_smtp(&cfg, "service@petrocs.example", rcpts, 1, LETTER,
                                   strlen(LETTER), reply, sizeof(reply), err, sizeof(err)),
                     MAIL_OUT_SENT);
    assert_int_equal(s_count_files(sink->spool, ".eml"), 1);
    s_sink_stop(sink);
}

int main(void)
{
    const struct CMUnitTest maildir[] = {
        cmocka_unit_test(test_maildir_delivery_lands_in_new_and_leaves_nothing_in_tmp),
        cmocka_unit_test(test_maildir_gives_every_letter_its_own_file),
        cmocka_unit_test(test_maildir_refuses_empty_message_and_unusable_directory),
    };
    const struct CMUnitTest smtp[] = {
        cmocka_unit_test(test_smtp_delivers_the_letter_byte_for_byte),
        cmocka_unit_test(test_smtp_sends_to_every_recipient_in_one_transaction),
        cmocka_unit_test(test_smtp_451_is_temporary_so_the_letter_is_retried),
        cmocka_unit_test(test_smtp_550_is_permanent_so_the_letter_is_not_retried),
        cmocka_unit_test(test_smtp_reply_after_data_decides_the_same_way),
        cmocka_unit_test(test_smtp_connection_refused_is_temporary),
        cmocka_unit_test(test_smtp_silent_relay_times_out_as_temporary),
        cmocka_unit_test(test_smtp_required_starttls_never_sends_in_clear),
        cmocka_unit_test(test_smtp_refuses_envelope_injection_and_bad_config_without_connecting),
        cmocka_unit_test(test_smtp_auth_accepts_right_password_and_refusal_is_permanent),
    };
    int failed = cmocka_run_group_tests_name("notify/mail_out maildir", maildir, NULL, NULL);
    failed +=
        cmocka_run_group_tests_name("notify/mail_out smtp", smtp, s_group_setup, s_group_teardown);
    return failed;
}
