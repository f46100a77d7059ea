/*
 * http_out — see http_out.h.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "cs_log.h"
#include "http_out.h"

#define S_RESPONSE_KEEP 200 /* bytes of a response body kept for the log */

int http_out_classify(long status)
{
    if (status >= 200 && status <= 299)
        return HTTP_OUT_SENT;
    if (status == 0 || status == 408 || status == 429 || status >= 500)
        return HTTP_OUT_TEMPORARY;
    return HTTP_OUT_PERMANENT;
}

typedef struct {
    char text[S_RESPONSE_KEEP + 1];
    size_t len;
} s_response_t;

/* Keep the start of the body, printable, and read (discard) the rest. */
static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    s_response_t *r = arg;
    size_t n = size * nmemb;
    for (size_t i = 0; i < n && r->len < S_RESPONSE_KEEP; i++)
        r->text[r->len++] = isprint((unsigned char)data[i]) ? data[i] : ' ';
    r->text[r->len] = '\0';
    return n;
}

int http_out_post(const char *url, const char *const *headers, const char *body, size_t len,
                  long timeout_ms, long *status_out, char *reply_out, size_t reply_len, char *err,
                  size_t errlen)
{
    *status_out = 0;
    if (reply_out && reply_len)
        reply_out[0] = '\0';
    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
        cs_errf(err, errlen, "http: url must start with http:// or https://");
        return HTTP_OUT_PERMANENT;
    }
    CURL *curl = curl_easy_init();
    struct curl_slist *list = NULL;
    int result = HTTP_OUT_TEMPORARY;
    if (!curl) {
        cs_errf(err, errlen, "http: out of memory");
        return result;
    }
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *grown = curl_slist_append(list, headers[i]);
        if (!grown) {
            cs_errf(err, errlen, "http: out of memory");
            goto out;
        }
        list = grown;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    s_response_t resp = {.len = 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    CURLcode res = curl_easy_perform(curl);
    long status = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    *status_out = status;
    result = res == CURLE_OK ? http_out_classify(status) : HTTP_OUT_TEMPORARY;
    if (res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT)
        result = HTTP_OUT_PERMANENT;
    if (reply_out && reply_len) {
        if (res == CURLE_OK)
            snprintf(reply_out, reply_len, "HTTP %ld: %s", status, resp.text);
        else
            snprintf(reply_out, reply_len, "%s", curl_easy_strerror(res));
    }
    if (res != CURLE_OK)
        cs_errf(err, errlen, "http: %s%s%s", curl_easy_strerror(res), errbuf[0] ? ": " : "",
                errbuf);
    else if (result != HTTP_OUT_SENT)
        cs_errf(err, errlen, "http: status %ld", status);
out:
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return result;
}
