/*
 * recompute — a stored clock under new terms (see recompute.h).
 */
#include <stdlib.h>
#include <string.h>
#include "cs_log.h"
#include "recompute.h"

int sla_recompute(cs_db_t *db, sla_clock_row_t *row, const sla_terms_change_t *change,
                  int64_t at_ms, const char *source_event_id, const char *trace_id)
{
    sla_clock_t *c = &row->clock;
    if (c->state != SLA_CLOCK_RUNNING && c->state != SLA_CLOCK_PAUSED)
        return 0;
    int64_t *pauses = NULL;
    size_t npauses = 0;
    if (sla_store_pauses(db, row, &pauses, &npauses) < 0)
        return -1;
    sla_clock_t next = *c;
    int rc = sla_clock_recompute(&next, change->counting, change->target_ms, pauses, npauses);
    free(pauses);
    if (rc < 0) {
        cs_error("sla: %s %s clock cannot be recomputed (%s): its history does not replay;"
                 " it keeps counting as it was",
                 row->number, sla_target_name(c->target), change->note);
        return 0;
    }
    const char *calendar = sla_calendar_name(change->counting->calendar);
    const char *priority = change->priority ? change->priority : row->priority;
    const char *policy_id = change->policy_id ? change->policy_id : row->policy_id;
    if (rc == 0 || (next.deadline_ms == c->deadline_ms && next.warn_at_ms == c->warn_at_ms &&
                    next.target_ms == c->target_ms && strcmp(calendar, row->policy) == 0 &&
                    strcmp(priority, row->priority) == 0 && strcmp(policy_id, row->policy_id) == 0))
        return 0;
    int64_t old_deadline = c->deadline_ms;
    *c = next;
    snprintf(row->priority, sizeof(row->priority), "%s", priority);
    snprintf(row->policy, sizeof(row->policy), "%s", calendar);
    snprintf(row->policy_id, sizeof(row->policy_id), "%s", policy_id);
    uint32_t pct = sla_clock_percent(c, change->counting, at_ms);
    if (sla_store_save(db, row) < 0 ||
        sla_store_history_ex(db, row, "changed", at_ms, pct, source_event_id, 0, change->note) <
            0 ||
        sla_store_emit(db, row, "sla.changed", at_ms, pct, 0, trace_id) < 0)
        return -1;
    cs_info("sla: %s %s clock recomputed (%s): deadline moved by %lld s", row->number,
            sla_target_name(c->target), change->note,
            (long long)((c->deadline_ms - old_deadline) / 1000));
    return 1;
}
