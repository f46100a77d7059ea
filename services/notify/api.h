/*
 * api — notify's HTTP face for operators and tests:
 *
 *   GET /v1/notifications?ticket=CS-2026-000123 (or recipient=, message_id=; limit, offset)
 *       {"notifications":[{"id","kind","channel","recipient","language","status","reason",
 *        "attempts","next_attempt_at","message_id","smtp_reply","created_at","sent_at",
 *        "bounced_at","ticket_number","source_type"}]}
 *       status: queued, deferred, sent, failed, bounced, suppressed, capped
 *   GET /v1/stats
 *       {"by_kind":{"acceptance":3,...},"by_status":{"sent":2,"queued":1,...}}
 *   GET /v1/staff, PUT /v1/staff/{login} {name,email,sms,voice,language,lead_of},
 *   DELETE /v1/staff/{login}
 *       the people alerts go to (alert.h); sms/voice are E.164 numbers
 *   GET /v1/duty, PUT /v1/duty/{login}, DELETE /v1/duty/{login}
 *       the duty list: who hears of an emergency level 1 by every channel
 *   POST /v1/webhooks, GET /v1/webhooks[/{id}[/deliveries]], DELETE /v1/webhooks/{id}
 *       outbound webhook subscribers (webhook.h)
 */
#ifndef PETROCS_NOTIFY_API_H
#define PETROCS_NOTIFY_API_H
#include "cs_service.h"

void api_register(cs_service_t *svc);

#endif
