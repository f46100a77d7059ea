/*
 * api.h - complaint's HTTP routes (see api.c for the list and the rules).
 */
#ifndef COMPLAINT_API_H_INCLUDED
#define COMPLAINT_API_H_INCLUDED

#include "cs_service.h"

/* Register the routes on the service's HTTP server (ctx = svc). */
void complaint_api_register(cs_service_t *svc);

#endif
