/*
 * calendar — the SLA calendars behind one small interface (see calendar.h).
 *
 * Each kind of calendar supplies its two questions as function pointers;
 * today there is only 7×24, where working time is plain elapsed time.
 */
#include <stdlib.h>
#include <string.h>
#include "calendar.h"

struct sla_calendar {
    const char *name;
    int (*add)(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out);
    int64_t (*between)(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms);
};

/* ---- 7×24 ----------------------------------------------------------------- */

static int s_7x24_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out)
{
    (void)self;
    if (work_ms < 0 || start_ms > INT64_MAX - work_ms)
        return -1;
    *out = start_ms + work_ms;
    return 0;
}

static int64_t s_7x24_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms)
{
    (void)self;
    if (to_ms <= from_ms)
        return 0;
    /* from_ms < to_ms, both int64: the difference can still overflow when
       they have opposite signs far apart; saturate rather than wrap. */
    if (from_ms < 0 && to_ms > INT64_MAX + from_ms)
        return INT64_MAX;
    return to_ms - from_ms;
}

/* ---- the interface ---------------------------------------------------------- */

sla_calendar_t *sla_calendar_new_7x24(void)
{
    sla_calendar_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->name = "7x24";
    self->add = s_7x24_add;
    self->between = s_7x24_between;
    return self;
}

sla_calendar_t *sla_calendar_new_named(const char *name)
{
    if (name && strcmp(name, "7x24") == 0)
        return sla_calendar_new_7x24();
    return NULL;
}

void sla_calendar_destroy(sla_calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *sla_calendar_name(const sla_calendar_t *self)
{
    return self->name;
}

int sla_calendar_add(const sla_calendar_t *self, int64_t start_ms, int64_t work_ms, int64_t *out)
{
    return self->add(self, start_ms, work_ms, out);
}

int64_t sla_calendar_between(const sla_calendar_t *self, int64_t from_ms, int64_t to_ms)
{
    return self->between(self, from_ms, to_ms);
}
