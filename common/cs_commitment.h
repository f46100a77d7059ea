/*
 * cs_commitment — the service commitments by priority (DESIGN.md §1).
 *
 * Dispatch states them in the acceptance letter and sla-monitor arms its
 * clocks with them, so both read the same table. Defaults: first response
 * within 2 h (1 h for P1), resolution within 48 h, within 24 h for urgent
 * tickets (P1, P2). Each figure can be overridden by the environment:
 * CS_COMMIT_P1_RESPONSE_MIN, CS_COMMIT_P1_RESOLUTION_MIN, … P4.
 */
#ifndef CS_COMMITMENT_H
#define CS_COMMITMENT_H

typedef struct {
    int response_min;   /* first response target, minutes */
    int resolution_min; /* resolution target, minutes */
} cs_commitment_t;

/* Load the table (defaults + environment). 0, or -1 naming a bad variable. */
int cs_commitment_load(void);
/* The commitment for "P1".."P4"; an unknown priority gets P3's. */
cs_commitment_t cs_commitment_for(const char *priority);

#endif
