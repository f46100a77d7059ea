/*
 * gateway — SMS and voice alerts through the company's HTTP gateway.
 *
 * One POST per message to CS_NOTIFY_SMS_URL (or CS_NOTIFY_VOICE_URL), with a body made
 * from a configurable template (CS_NOTIFY_SMS_BODY, CS_NOTIFY_VOICE_BODY) whose
 * placeholders are filled with the message's facts:
 *
 *     {{to}}         the number, E.164 ("+8613800138000")
 *     {{text}}       what to send or read out (the alert's subject line)
 *     {{id}}         the notification id: a gateway that de-duplicates can use it, and
 *                    it is the same on every retry of one message
 *     {{ticket_no}}  the ticket number
 *     {{channel}}    "sms" or "voice"
 *
 * Values are escaped for CS_NOTIFY_GATEWAY_CONTENT_TYPE: as JSON string contents for
 * application/json (the default, so the template writes "{{text}}" inside quotes),
 * percent-encoded for application/x-www-form-urlencoded, and as they are otherwise.
 * CS_NOTIFY_GATEWAY_AUTH, when set, is sent as the value of the header named by
 * CS_NOTIFY_GATEWAY_AUTH_HEADER (default Authorization), e.g. "Bearer <token>".
 * A template with any other placeholder is refused at start-up.
 */
#ifndef PETROCS_NOTIFY_GATEWAY_H
#define PETROCS_NOTIFY_GATEWAY_H

#include <stddef.h>

#define GATEWAY_BODY_MAX 8192 /* bytes of a rendered request body */

typedef enum { GATEWAY_ESCAPE_JSON, GATEWAY_ESCAPE_FORM, GATEWAY_ESCAPE_NONE } gateway_escape_t;

typedef struct {
    const char *sms_url;   /* NULL: SMS alerts fail with "no gateway" */
    const char *voice_url; /* NULL: voice alerts fail likewise */
    const char *sms_body;
    const char *voice_body;
    const char *content_type;
    gateway_escape_t escape;
    char auth_header[1024]; /* "Authorization: Bearer ..." or "" */
    long timeout_ms;
} gateway_config_t;

/* Read the configuration and check the body templates; 0, or -1 naming the variable. */
int gateway_config_load(gateway_config_t *cfg);

/* Which escaping a content type asks for. */
gateway_escape_t gateway_escape_for(const char *content_type);

/* Check a body template: every placeholder must be one of the five above.  0, or -1
 * with err naming the placeholder. */
int gateway_check_template(const char *tmpl, char *err, size_t errlen);

/* Fill tmpl; a new string (caller frees), or NULL when it would exceed GATEWAY_BODY_MAX
 * or a value is not valid text for the escaping. */
char *gateway_render(const char *tmpl, gateway_escape_t escape, const char *to, const char *text,
                     const char *id, const char *ticket_no, const char *channel);

/* Send one message; HTTP_OUT_SENT / _PERMANENT / _TEMPORARY (http_out.h).  reply gets the
 * gateway's answer for the delivery log. */
int gateway_send(const gateway_config_t *cfg, const char *channel, const char *to, const char *text,
                 const char *id, const char *ticket_no, char *reply, size_t reply_len, char *err,
                 size_t errlen);

#endif
