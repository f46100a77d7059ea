/*
 * api — notify's HTTP face for operators and tests:
 *
 *   GET /v1/notifications?ticket=CS-2026-000123
 *       {"notifications":[{"id","kind","recipient","language","status","reason",
 *        "attempts","next_attempt_at","message_id","smtp_reply","created_at","sent_at"}]}
 *   GET /v1/stats
 *       {"by_kind":{"acceptance":3,...},"by_status":{"sent":2,"queued":1,...}}
 */
#ifndef PETROCS_NOTIFY_API_H
#define PETROCS_NOTIFY_API_H
#include "cs_service.h"

void api_register(cs_service_t *svc);

#endif
