/*
 * http_out — one HTTP POST through libcurl, for the SMS/voice gateway (gateway.h) and
 * outbound webhooks (webhook.h).
 *
 * The answer is classified the way both callers retry: 2xx delivered; 408, 429, 5xx
 * and anything that is not an HTTP answer at all (refused, reset, timed out, TLS) are
 * temporary; every other status is permanent (the request itself is wrong and sending it
 * again will not help).  reply_out gets "HTTP 202: <the start of the response body>",
 * printable characters only, for the delivery log.
 */
#ifndef PETROCS_NOTIFY_HTTP_OUT_H
#define PETROCS_NOTIFY_HTTP_OUT_H

#include <stddef.h>

#define HTTP_OUT_SENT 0
#define HTTP_OUT_PERMANENT (-1)
#define HTTP_OUT_TEMPORARY (-2)

/* The outcome for an HTTP status (0: no answer). */
int http_out_classify(long status);

/* POST body to url with the headers ("Name: value", NULL-terminated).  Returns
 * HTTP_OUT_SENT / _PERMANENT / _TEMPORARY; *status_out is the HTTP status or 0; err
 * says what failed.  Only http:// and https:// URLs are used. */
int http_out_post(const char *url, const char *const *headers, const char *body, size_t len,
                  long timeout_ms, long *status_out, char *reply_out, size_t reply_len, char *err,
                  size_t errlen);

#endif
