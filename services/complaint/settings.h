/*
 * settings.h - complaint's configuration, read once at start (main.c).
 */
#ifndef COMPLAINT_SETTINGS_H_INCLUDED
#define COMPLAINT_SETTINGS_H_INCLUDED

typedef struct {
    int accept_hours;    /* CS_COMPLAINT_ACCEPT_HOURS, default 24 */
    int handle_hours[4]; /* CS_COMPLAINT_HANDLE_HOURS_P1..P4: 24, 72, 72, 168 */
    char time_zone[64];  /* CS_COMPLAINT_TIME_ZONE: months and weeks of the analysis */
} complaint_settings_t;

/* The default handling time of a priority ("P1".."P4"; anything else P4). */
static inline int complaint_handle_hours(const complaint_settings_t *s, const char *priority)
{
    int i = priority && priority[0] == 'P' && priority[1] >= '1' && priority[1] <= '4' &&
                    priority[2] == '\0'
                ? priority[1] - '1'
                : 3;
    return s->handle_hours[i];
}

#endif
