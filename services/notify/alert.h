/*
 * alert — escalation and emergency alerts to staff, by every channel they have.
 *
 * dispatch.ticket.escalated becomes alerts, recorded in the consumer's transaction like
 * every other notification (outbound_record), one row per (event, channel, recipient):
 *
 *   - emergency level 1 (a major incident: facts.emergency_level = 1) → "emergency_alert"
 *     to every person on the duty list, by e-mail, SMS and voice call — each channel the
 *     person has a contact for;
 *   - any other escalation (emergency levels 2 and 3, SLA breaches) → "escalation_alert"
 *     to the person dispatch named (escalated_to), or, when it named nobody, to the lead
 *     of the ticket's team (staff.lead_of), by the channels in
 *     CS_NOTIFY_ESCALATION_CHANNELS (default "email,sms").
 *
 * People and the duty list live in notify's staff and duty_list tables (api.c edits them).
 * Alerts are automatic mail (Auto-Submitted) but are never capped: an alert held back is
 * an incident nobody hears of.  An alert with nobody to receive it is kept as a
 * "suppressed" row whose reason says why (no_staff_contact, duty_list_empty).
 *
 * SMS and voice carry the template's Subject line as their text (delivery.c).
 */
#ifndef PETROCS_NOTIFY_ALERT_H
#define PETROCS_NOTIFY_ALERT_H

#include <stdbool.h>
#include "cs_db.h"
#include "envelope.pb-c.h"
#include "outbound.h"

/* The variables an alert template may use besides ticket_no, customer_name,
 * request_subject (outbound_kind_vars). */
#define ALERT_VARS                                                                                 \
    "emergency_level", "escalation_level", "reason", "priority", "team", "staff_name",             \
        "escalated_at"

typedef struct {
    const outbound_config_t *outbound; /* what the rows are recorded with */
    bool email, sms, voice; /* CS_NOTIFY_ESCALATION_CHANNELS: escalations below level 1 */
} alert_config_t;

/* Read CS_NOTIFY_ESCALATION_CHANNELS; 0, or -1 naming the bad value in the log. */
int alert_config_load(alert_config_t *cfg, const outbound_config_t *outbound_cfg);

/* Parse a channel list "email,sms,voice" into the three flags; -1 on an unknown word or
 * an empty list. */
int alert_parse_channels(const char *list, bool *email, bool *sms, bool *voice);

/* The bus handler's part for dispatch.ticket.escalated: 0 recorded, 1 nothing to do,
 * -1 database error. */
int alert_on_escalated(cs_db_t *db, const Cs__Envelope *env, const alert_config_t *cfg);

#endif
