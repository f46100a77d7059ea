/*
 * registry — the customer registry: organisations (industry category, tier,
 * region, language, address) and their contacts (name, e-mail, phone in
 * E.164, language), merging of duplicates, and intake.customer.upserted for
 * every change.
 *
 *   POST  /v1/customers                         a customer with its contacts
 *   GET   /v1/customers?q=&email=&phone=&tier=&industry=&region=&limit=&offset=
 *   GET   /v1/customers/{id}                    with contacts (301 to the survivor if merged)
 *   PATCH /v1/customers/{id}                    organisation, industry, tier, region, language,
 * address POST  /v1/customers/{id}/contacts           a contact PATCH
 * /v1/customers/{id}/contacts/{cid}     name, email, phone, title, language, primary POST
 * /v1/customers/{id}/merge              {"duplicate": id, "reason"}: id absorbs it
 *
 * Who may do what (desk.h): reads show personal fields only to
 * CS_INTAKE_PERSONAL_ROLES with X-CS-Actor and ?reason=, recorded in
 * personal_reads; writes need one of those roles and an actor; a merge
 * needs CS_INTAKE_MERGE_ROLES.
 */
#ifndef INTAKE_REGISTRY_H
#define INTAKE_REGISTRY_H
#include "cs_service.h"

void registry_register(cs_service_t *svc);

/* intake.customer.upserted for customer id as stored now, in the caller's
   transaction. 0 or -1. */
int registry_emit(cs_db_t *db, const char *id);

#endif
