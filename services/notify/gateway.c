/*
 * gateway — see gateway.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cs_config.h"
#include "cs_log.h"
#include "gateway.h"
#include "http_out.h"

#define S_DEFAULT_BODY                                                                             \
    "{\"to\":\"{{to}}\",\"text\":\"{{text}}\",\"id\":\"{{id}}\",\"ticket\":\"{{ticket_no}}\"}"

static const char *const s_placeholders[] = {"to", "text", "id", "ticket_no", "channel"};

gateway_escape_t gateway_escape_for(const char *content_type)
{
    if (strncasecmp(content_type, "application/json", 16) == 0)
        return GATEWAY_ESCAPE_JSON;
    if (strncasecmp(content_type, "application/x-www-form-urlencoded", 33) == 0)
        return GATEWAY_ESCAPE_FORM;
    return GATEWAY_ESCAPE_NONE;
}

/* The placeholder at p ("{{name}}"): its index in s_placeholders, -1 when p opens none
 * (no "{{"), -2 when it is malformed or unknown.  *len gets its length. */
static int s_placeholder(const char *p, size_t *len)
{
    if (p[0] != '{' || p[1] != '{')
        return -1;
    const char *end = strstr(p + 2, "}}");
    if (!end)
        return -2;
    size_t n = (size_t)(end - p - 2);
    for (size_t i = 0; i < sizeof(s_placeholders) / sizeof(*s_placeholders); i++) {
        if (strlen(s_placeholders[i]) == n && strncmp(p + 2, s_placeholders[i], n) == 0) {
            *len = n + 4;
            return (int)i;
        }
    }
    return -2;
}

int gateway_check_template(const char *tmpl, char *err, size_t errlen)
{
    if (!tmpl || !*tmpl) {
        cs_errf(err, errlen, "the body template is empty");
        return -1;
    }
    for (const char *p = tmpl; *p; p++) {
        size_t len;
        if (s_placeholder(p, &len) == -2) {
            cs_errf(err, errlen,
                    "unknown or malformed placeholder at \"%.24s\" (use {{to}}, {{text}}, "
                    "{{id}}, {{ticket_no}}, {{channel}})",
                    p);
            return -1;
        }
    }
    return 0;
}

typedef struct {
    char *data;
    size_t len;
    int failed;
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t n)
{
    if (o->failed || o->len + n >= GATEWAY_BODY_MAX) {
        o->failed = 1;
        return;
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = '\0';
}

static void s_put_value(s_out_t *o, const char *v, gateway_escape_t escape)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        char buf[8];
        if (escape == GATEWAY_ESCAPE_JSON && (*p == '"' || *p == '\\')) {
            buf[0] = '\\';
            buf[1] = (char)*p;
            s_put(o, buf, 2);
        } else if (escape == GATEWAY_ESCAPE_JSON && *p < 0x20) {
            snprintf(buf, sizeof(buf), "\\u%04x", *p);
            s_put(o, buf, 6);
        } else if (escape == GATEWAY_ESCAPE_FORM && !isalnum(*p) && !strchr("-._~", *p)) {
            snprintf(buf, sizeof(buf), "%%%02X", *p);
            s_put(o, buf, 3);
        } else if (escape == GATEWAY_ESCAPE_NONE && *p < 0x20 && *p != '\n') {
            s_put(o, " ", 1); /* a control character in a raw body helps nobody */
        } else {
            s_put(o, (const char *)p, 1);
        }
    }
}

char *gateway_render(const char *tmpl, gateway_escape_t escape, const char *to, const char *text,
                     const char *id, const char *ticket_no, const char *channel)
{
    const char *values[] = {to, text, id, ticket_no, channel};
    s_out_t o = {.data = malloc(GATEWAY_BODY_MAX)};
    if (!o.data)
        return NULL;
    o.data[0] = '\0';
    for (const char *p = tmpl; *p && !o.failed;) {
        size_t len;
        int k = s_placeholder(p, &len);
        if (k >= 0) {
            s_put_value(&o, values[k] ? values[k] : "", escape);
            p += len;
        } else {
            s_put(&o, p, 1);
            p++;
        }
    }
    if (o.failed) {
        free(o.data);
        return NULL;
    }
    return o.data;
}

static int s_body(const char *name, const char **out)
{
    char err[256];
    *out = cs_env(name, S_DEFAULT_BODY);
    if (gateway_check_template(*out, err, sizeof(err)) < 0) {
        cs_error("config: %s: %s", name, err);
        return -1;
    }
    return 0;
}

int gateway_config_load(gateway_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->sms_url = cs_env("CS_NOTIFY_SMS_URL", NULL);
    cfg->voice_url = cs_env("CS_NOTIFY_VOICE_URL", NULL);
    cfg->content_type = cs_env("CS_NOTIFY_GATEWAY_CONTENT_TYPE", "application/json");
    cfg->escape = gateway_escape_for(cfg->content_type);
    for (const char *c = cfg->content_type; *c; c++) {
        if (*c < ' ' || *c > '~') {
            cs_error("config: CS_NOTIFY_GATEWAY_CONTENT_TYPE must be printable ASCII");
            return -1;
        }
    }
    const char *urls[] = {cfg->sms_url, cfg->voice_url};
    for (int i = 0; i < 2; i++) {
        if (urls[i] && strncasecmp(urls[i], "http://", 7) != 0 &&
            strncasecmp(urls[i], "https://", 8) != 0) {
            cs_error("config: %s must be an http:// or https:// URL",
                     i ? "CS_NOTIFY_VOICE_URL" : "CS_NOTIFY_SMS_URL");
            return -1;
        }
    }
    if (s_body("CS_NOTIFY_SMS_BODY", &cfg->sms_body) < 0 ||
        s_body("CS_NOTIFY_VOICE_BODY", &cfg->voice_body) < 0)
        return -1;
    const char *auth = cs_env("CS_NOTIFY_GATEWAY_AUTH", NULL);
    const char *name = cs_env("CS_NOTIFY_GATEWAY_AUTH_HEADER", "Authorization");
    for (const char *c = name; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '-') {
            cs_error("config: CS_NOTIFY_GATEWAY_AUTH_HEADER must be a header name");
            return -1;
        }
    }
    if (auth) {
        for (const char *c = auth; *c; c++) {
            if ((unsigned char)*c < ' ' || *c == 0x7f) {
                cs_error("config: CS_NOTIFY_GATEWAY_AUTH must be one line of text");
                return -1;
            }
        }
        if (snprintf(cfg->auth_header, sizeof(cfg->auth_header), "%s: %s", name, auth) >=
            (int)sizeof(cfg->auth_header)) {
            cs_error("config: CS_NOTIFY_GATEWAY_AUTH is too long");
            return -1;
        }
    }
    int64_t timeout;
    if (cs_env_int("CS_NOTIFY_GATEWAY_TIMEOUT_MS", 10000, 100, 600000, &timeout) < 0)
        return -1;
    cfg->timeout_ms = (long)timeout;
    return 0;
}

int gateway_send(const gateway_config_t *cfg, const char *channel, const char *to, const char *text,
                 const char *id, const char *ticket_no, char *reply, size_t reply_len, char *err,
                 size_t errlen)
{
    int voice = strcmp(channel, "voice") == 0;
    const char *url = voice ? cfg->voice_url : cfg->sms_url;
    if (reply && reply_len)
        reply[0] = '\0';
    if (!url) {
        cs_errf(err, errlen, "no %s gateway configured (%s)", channel,
                voice ? "CS_NOTIFY_VOICE_URL" : "CS_NOTIFY_SMS_URL");
        return HTTP_OUT_PERMANENT;
    }
    char *body = gateway_render(voice ? cfg->voice_body : cfg->sms_body, cfg->escape, to, text, id,
                                ticket_no, channel);
    if (!body) {
        cs_errf(err, errlen, "the %s request body is larger than %d bytes", channel,
                GATEWAY_BODY_MAX);
        return HTTP_OUT_PERMANENT;
    }
    char ctype[300];
    snprintf(ctype, sizeof(ctype), "Content-Type: %s", cfg->content_type);
    const char *headers[] = {ctype, cfg->auth_header[0] ? cfg->auth_header : NULL, NULL};
    long status = 0;
    int rc = http_out_post(url, headers, body, strlen(body), cfg->timeout_ms, &status, reply,
                           reply_len, err, errlen);
    free(body);
    return rc;
}
