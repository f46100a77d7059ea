/*
 * mail_out.c — maildir and SMTP delivery of composed letters.
 *
 * The maildir writer follows the classic protocol (write under tmp/ with a name nobody
 * else can choose, fsync, link into new/, fsync the directory) because a letter the
 * service has recorded as "sent" must survive a power cut, and a mail reader scanning
 * new/ must never see a half-written file.
 *
 * The SMTP client is libcurl's.  What libcurl does not give directly is the relay's
 * reply text, which is what an operator needs to see in the delivery log ("550 5.1.1
 * user unknown" tells more than "error 55"); we collect it from libcurl's debug
 * callback, keeping only the lines the relay sent (never what we sent, which includes
 * AUTH credentials).
 */
#include "cs_log.h"
#include "mail_out.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

int mail_out_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void mail_out_shutdown(void)
{
    curl_global_cleanup();
}

/* ---- maildir ------------------------------------------------------------------ */

static int s_mkdir(const char *path, char *err, size_t errlen)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
    }
    cs_errf(err, errlen, "maildir: cannot create directory %s: %s", path, strerror(errno));
    return -1;
}

/* The host name as the maildir convention wants it in file names: '/' and ':' would
 * break the name, so they are written as octal escapes. */
static void s_host_part(char *out, size_t outlen)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    size_t o = 0;
    for (const char *c = host; *c && o + 5 < outlen; c++) {
        if (*c == '/')
            o += (size_t)snprintf(out + o, outlen - o, "\\057");
        else if (*c == ':')
            o += (size_t)snprintf(out + o, outlen - o, "\\072");
        else if (isprint((unsigned char)*c))
            out[o++] = *c;
    }
    out[o] = '\0';
}

/* time.M<usec>P<pid>Q<counter>R<random>.host: unique across processes, threads and
 * restarts without any coordination. */
static int s_unique_name(char *out, size_t outlen)
{
    static unsigned long counter;
    struct timeval tv;
    uint32_t random;
    char host[128];
    gettimeofday(&tv, NULL);
    if (getrandom(&random, sizeof(random), 0) != (ssize_t)sizeof(random))
        return -1;
    s_host_part(host, sizeof(host));
    unsigned long q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    int n = snprintf(out, outlen, "%lld.M%06ldP%ldQ%luR%08x.%s", (long long)tv.tv_sec,
                     (long)tv.tv_usec, (long)getpid(), q, random, host);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

static int s_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int s_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Write the message under tmp/, flushed to disk before it becomes visible. */
static int s_write_tmp(const char *tmp_path, const char *msg, size_t len, char *err, size_t errlen)
{
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cs_errf(err, errlen, "maildir: cannot create %s: %s", tmp_path, strerror(errno));
        return -1;
    }
    if (s_write_all(fd, msg, len) || fsync(fd)) {
        cs_errf(err, errlen, "maildir: cannot write %s: %s", tmp_path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd)) {
        cs_errf(err, errlen, "maildir: cannot close %s: %s", tmp_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Move tmp/name to new/name.  link() refuses to replace an existing file, which is
 * what the protocol wants; file systems without hard links get rename(). */
static int s_publish(const char *tmp_path, const char *new_path, char *err, size_t errlen)
{
    if (link(tmp_path, new_path) == 0) {
        unlink(tmp_path);
        return 0;
    }
    if ((errno == EPERM || errno == ENOTSUP || errno == EXDEV || errno == EMLINK) &&
        rename(tmp_path, new_path) == 0)
        return 0;
    cs_errf(err, errlen, "maildir: cannot move to %s: %s", new_path, strerror(errno));
    return -1;
}

int mail_out_maildir(const char *maildir_root, const char *msg, size_t len, char *path_out,
                     size_t path_len, char *err, size_t errlen)
{
    if (!maildir_root || !*maildir_root || !msg || len == 0) {
        cs_errf(err, errlen, "maildir: no directory or empty message");
        return -1;
    }
    if (len > MAIL_OUT_MESSAGE_MAX) {
        cs_errf(err, errlen, "maildir: message larger than %d bytes", MAIL_OUT_MESSAGE_MAX);
        return -1;
    }
    char tmp_dir[PATH_MAX], new_dir[PATH_MAX], cur_dir[PATH_MAX], name[256];
    char tmp_path[PATH_MAX], new_path[PATH_MAX];
    if (snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", maildir_root) >= (int)sizeof(tmp_dir) ||
        snprintf(new_dir, sizeof(new_dir), "%s/new", maildir_root) >= (int)sizeof(new_dir) ||
        snprintf(cur_dir, sizeof(cur_dir), "%s/cur", maildir_root) >= (int)sizeof(cur_dir) ||
        s_unique_name(name, sizeof(name)) ||
        snprintf(tmp_path, sizeof(tmp_path), "%s/%s", tmp_dir, name) >= (int)sizeof(tmp_path) ||
        snprintf(new_path, sizeof(new_path), "%s/%s", new_dir, name) >= (int)sizeof(new_path)) {
        cs_errf(err, errlen, "maildir: path too long or no randomness under %s", maildir_root);
        return -1;
    }
    if (path_out && strlen(new_path) >= path_len) {
        cs_errf(err, errlen, "maildir: path buffer too small for %s", new_path);
        return -1;
    }
    if (s_mkdir(maildir_root, err, errlen) || s_mkdir(tmp_dir, err, errlen) ||
        s_mkdir(new_dir, err, errlen) || s_mkdir(cur_dir, err, errlen))
        return -1;
    if (s_write_tmp(tmp_path, msg, len, err, errlen))
        goto out_unlink;
    if (s_publish(tmp_path, new_path, err, errlen))
        goto out_unlink;
    if (s_fsync_dir(new_dir)) {
        cs_errf(err, errlen, "maildir: cannot sync %s: %s", new_dir, strerror(errno));
        return -1; /* the file is in new/ but may not survive a crash: report it */
    }
    if (path_out)
        snprintf(path_out, path_len, "%s", new_path);
    return 0;
out_unlink:
    unlink(tmp_path);
    return -1;
}

/* ---- SMTP --------------------------------------------------------------------- */

/* The relay's most recent reply, possibly several lines ("250-..." then "250 ..."). */
typedef struct {
    char text[512];
    size_t len;
    bool complete; /* the last line seen was a final one: the next line starts a reply */
} s_reply_t;

typedef struct {
    const char *next;
    size_t left;
} s_upload_t;

static size_t s_read_message(char *buf, size_t size, size_t nitems, void *arg)
{
    s_upload_t *up = arg;
    size_t n = size * nitems < up->left ? size * nitems : up->left;
    memcpy(buf, up->next, n);
    up->next += n;
    up->left -= n;
    return n;
}

static void s_reply_line(s_reply_t *r, const char *line, size_t n)
{
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (n == 0)
        return;
    /* 221 answers the QUIT libcurl sends after a failure; the reply that decided the
     * outcome came before it and is the one worth reporting. */
    if (r->complete && n >= 4 && memcmp(line, "221", 3) == 0 && (line[3] == ' ' || line[3] == '-'))
        return;
    if (r->complete) {
        r->len = 0;
        r->complete = false;
    }
    if (r->len > 0 && r->len + 1 < sizeof(r->text))
        r->text[r->len++] = ' ';
    for (size_t i = 0; i < n && r->len + 1 < sizeof(r->text); i++)
        r->text[r->len++] = isprint((unsigned char)line[i]) ? line[i] : '?';
    r->text[r->len] = '\0';
    /* "250-more" continues, "250 done" (or a bare code) ends a reply. */
    r->complete = n < 4 || line[3] != '-';
}

static int s_debug(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)curl;
    if (type != CURLINFO_HEADER_IN)
        return 0;
    s_reply_t *r = arg;
    while (size > 0) {
        char *eol = memchr(data, '\n', size);
        size_t n = eol ? (size_t)(eol - data) + 1 : size;
        s_reply_line(r, data, n);
        data += n;
        size -= n;
    }
    return 0;
}

/* An envelope address: printable ASCII, no spaces or angle brackets, one '@'.  These
 * go verbatim into MAIL FROM / RCPT TO, so CR/LF must never get through. */
static bool s_envelope_addr_valid(const char *a)
{
    size_t len = a ? strnlen(a, 255) : 0;
    if (len < 3 || len > 254)
        return false;
    for (size_t i = 0; i < len; i++)
        if (a[i] <= ' ' || a[i] >= 0x7f || a[i] == '<' || a[i] == '>')
            return false;
    const char *at = strrchr(a, '@');
    return at && at > a && at[1];
}

static int s_check_args(const mail_out_smtp_config_t *cfg, const char *from,
                        const char *const *rcpt, size_t nrcpt, const char *msg, size_t len,
                        char *err, size_t errlen)
{
    if (!cfg || !cfg->url ||
        (strncasecmp(cfg->url, "smtp://", 7) != 0 && strncasecmp(cfg->url, "smtps://", 8) != 0)) {
        cs_errf(err, errlen, "smtp: relay url must start with smtp:// or smtps://");
        return -1;
    }
    for (const char *h = cfg->helo; h && *h; h++) {
        if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-') {
            cs_errf(err, errlen, "smtp: helo name must be a DNS name");
            return -1;
        }
    }
    if (!s_envelope_addr_valid(from)) {
        cs_errf(err, errlen, "smtp: envelope sender is missing or malformed");
        return -1;
    }
    if (!rcpt || nrcpt == 0 || nrcpt > MAIL_OUT_RCPT_MAX) {
        cs_errf(err, errlen, "smtp: need 1 to %d recipients", MAIL_OUT_RCPT_MAX);
        return -1;
    }
    for (size_t i = 0; i < nrcpt; i++) {
        if (!s_envelope_addr_valid(rcpt[i])) {
            cs_errf(err, errlen, "smtp: recipient %zu is missing or malformed", i + 1);
            return -1;
        }
    }
    if (!msg || len == 0 || len > MAIL_OUT_MESSAGE_MAX) {
        cs_errf(err, errlen, "smtp: message empty or larger than %d bytes", MAIL_OUT_MESSAGE_MAX);
        return -1;
    }
    return 0;
}

/* What the caller should do after a failed transfer: a 5xx reply is final, a 4xx reply
 * or no reply at all (refused, reset, timed out, TLS trouble) is worth another try
 * later.  A URL or protocol libcurl cannot use will never work: permanent. */
static int s_classify(CURLcode res, long code)
{
    if (res == CURLE_OK)
        return MAIL_OUT_SENT;
    if (code >= 500 && code <= 599)
        return MAIL_OUT_PERMANENT;
    if (code >= 400 && code <= 499)
        return MAIL_OUT_TEMPORARY;
    switch (res) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_LOGIN_DENIED:
        return MAIL_OUT_PERMANENT;
    default:
        return MAIL_OUT_TEMPORARY;
    }
}

/* libcurl takes the EHLO name from the URL's path: smtp://relay:25/petrocs.example. */
static char *s_url_with_helo(const mail_out_smtp_config_t *cfg)
{
    const char *rest = strstr(cfg->url, "://") + 3;
    bool has_path = strchr(rest, '/') != NULL;
    char *url = NULL;
    if (cfg->helo && *cfg->helo && !has_path) {
        if (asprintf(&url, "%s/%s", cfg->url, cfg->helo) < 0)
            return NULL;
        return url;
    }
    return strdup(cfg->url);
}

static void s_set_tls(CURL *curl, const mail_out_smtp_config_t *cfg)
{
    static const long use_ssl[] = {
        [MAIL_OUT_STARTTLS_NONE] = CURLUSESSL_NONE,
        [MAIL_OUT_STARTTLS_OPTIONAL] = CURLUSESSL_TRY,
        [MAIL_OUT_STARTTLS_REQUIRED] = CURLUSESSL_ALL,
    };
    unsigned mode = (unsigned)cfg->starttls <= MAIL_OUT_STARTTLS_REQUIRED
                        ? (unsigned)cfg->starttls
                        : MAIL_OUT_STARTTLS_REQUIRED;
    curl_easy_setopt(curl, CURLOPT_USE_SSL, use_ssl[mode]);
    if (cfg->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
    if (cfg->tls_no_verify) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

int mail_out_smtp(const mail_out_smtp_config_t *cfg, const char *from, const char *const *rcpt,
                  size_t nrcpt, const char *msg, size_t len, char *reply_out, size_t reply_len,
                  char *err, size_t errlen)
{
    if (reply_out && reply_len)
        reply_out[0] = '\0';
    if (s_check_args(cfg, from, rcpt, nrcpt, msg, len, err, errlen))
        return MAIL_OUT_PERMANENT;

    int result = MAIL_OUT_TEMPORARY;
    char errbuf[CURL_ERROR_SIZE] = "";
    char mail_from[260];
    s_reply_t reply = {.complete = true};
    s_upload_t upload = {msg, len};
    struct curl_slist *rcpts = NULL;
    char *url = s_url_with_helo(cfg);
    CURL *curl = curl_easy_init();
    if (!url || !curl) {
        cs_errf(err, errlen, "smtp: out of memory");
        goto out_free;
    }
    for (size_t i = 0; i < nrcpt; i++) {
        char one[260];
        snprintf(one, sizeof(one), "<%s>", rcpt[i]);
        struct curl_slist *grown = curl_slist_append(rcpts, one);
        if (!grown) {
            cs_errf(err, errlen, "smtp: out of memory");
            goto out_free;
        }
        rcpts = grown;
    }
    snprintf(mail_from, sizeof(mail_from), "<%s>", from);

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, s_read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000L);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, s_debug);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &reply);
    s_set_tls(curl, cfg);
    if (cfg->username) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->password ? cfg->password : "");
    }

    CURLcode res = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    result = s_classify(res, code);
    if (reply_out && reply_len) {
        if (reply.len)
            snprintf(reply_out, reply_len, "%s", reply.text);
        else if (code)
            snprintf(reply_out, reply_len, "%ld", code);
    }
    if (res != CURLE_OK)
        cs_errf(err, errlen, "smtp: %s%s%s (relay reply: %s)", curl_easy_strerror(res),
                errbuf[0] ? ": " : "", errbuf, reply.len ? reply.text : "none");
out_free:
    curl_easy_cleanup(curl);
    curl_slist_free_all(rcpts);
    free(url);
    return result;
}
