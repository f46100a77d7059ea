/*
 * gauges — survey's satisfaction over the last 30 days, from its own tables
 * every CS_GAUGE_EVERY_MS (10 s) in the tick:
 *
 *   cs_survey_answers_last_30d            answers recorded in the last 30 days;
 *   cs_survey_satisfied_answers_last_30d  those with satisfaction 4 or 5;
 *   cs_survey_satisfied_ratio_last_30d    satisfied / answers (target 0.9), NaN
 *                                         when there is no answer to divide by.
 *
 * The definitions are summary.h's. (cs_survey_satisfied_share is the same
 * ratio over all time.) An answer comes before its link expires (link_days
 * after the invitation went out), so an answer of the last 30 days belongs to
 * an invitation sent in the last 30 + link_days days: the invitations_sent
 * index bounds the join.
 */
#ifndef SURVEY_GAUGES_H
#define SURVEY_GAUGES_H
#include "cs_db.h"

/* Refresh the gauges when due (link_days: CS_SURVEY_LINK_DAYS); a database
   error leaves them as they were. */
void survey_gauges_tick(cs_db_t *db, int link_days);

#endif
