/*
 * api.h - complaint's HTTP routes (see api.c for the list and the rules).
 */
#ifndef COMPLAINT_API_H_INCLUDED
#define COMPLAINT_API_H_INCLUDED

#include "cs_service.h"
#include "settings.h"

/* What the HTTP handlers share; lives as long as the service. */
typedef struct {
    cs_service_t *svc;
    const complaint_settings_t *settings;
} complaint_api_t;

/* Register every route on the service's HTTP server. */
void complaint_api_register(complaint_api_t *api);

/* Answer with the case `id` (a UUID) as it stands: 200, or 404 / 503. */
void complaint_api_answer_case(cs_http_req_t *req, cs_http_resp_t *resp, const char *id,
                               int status);

/* A string member of a JSON body: NULL when absent or null; -1 (and a 422
   naming it) when present but not a string. */
int complaint_api_member(json_t *body, const char *key, const char **out, cs_http_resp_t *resp);

/* The step routes (steps.c) and the analysis (analysis.c). */
void complaint_steps_register(complaint_api_t *api);
void complaint_analysis_register(complaint_api_t *api);

#endif
