/*
 * summary.h - the satisfaction figures of a period, from the answers.
 *
 * Why: the service manual sets a target of at least 90 % satisfied
 * customers (7.1, appendix B) and the KPI report also shows response rate
 * and a net promoter score.  The definitions live here, in one place, so
 * the API, the gauge and the tests agree:
 *   response rate   = answered / sent
 *   satisfied share = answers with satisfaction 4 or 5 / answers
 *   NPS             = % promoters (recommend 9–10) − % detractors (0–6),
 *                     over the answers that gave a recommend score
 *   averages        = mean satisfaction over answers; mean recommend, response
 *                     speed and professionalism over the answers that gave one
 * A ratio with nothing to divide by is "not available" (has_* = 0), never 0.
 * Pure C: the caller feeds counts (a GROUP BY of at most 5 × 12 rows).
 */
#ifndef SURVEY_SUMMARY_H_INCLUDED
#define SURVEY_SUMMARY_H_INCLUDED

#include <stdint.h>

#define SURVEY_SATISFIED_TARGET 0.9
#define SURVEY_LOW_SCORE_MAX 2 /* satisfaction at or below this asks for a follow-up */

/* Does this satisfaction score call for a service manager's follow-up? */
int survey_is_low_score(int satisfaction);

/* Why an answer is a low score, or NULL when it is not: "satisfaction"
   (satisfaction <= 2), or "comment" (a recommend score of 0..6 given and a
   complaint word in the comment, see survey_has_complaint_word). */
const char *survey_low_score_reason(int satisfaction, int recommend, const char *comment);

/* Does the comment carry a complaint word?  Chinese words anywhere (投诉,
   不满, 太慢, 敷衍 …); English words at the start of a word, case ignored
   (complain…, terrible, unacceptable, disappoint…, rude …). */
int survey_has_complaint_word(const char *comment);

/* A period bound from a query string: milliseconds since the epoch
   ("1767225600000"), a date ("2026-01-01", midnight UTC) or a time
   ("2026-01-01T08:00:00Z", "2026-01-01T08:00:00.250+08:00").
   0 with *ms set, or -1. */
int survey_parse_time(const char *s, int64_t *ms);

typedef struct {
    int64_t sent;      /* invitations sent (skipped ones excluded) */
    int64_t answered;  /* answers */
    int64_t satisfied; /* answers with satisfaction 4..5 */
    int64_t satisfaction_sum;
    int64_t recommend_answers; /* answers with a recommend score */
    int64_t recommend_sum;
    int64_t promoters;                                    /* recommend 9..10 */
    int64_t passives;                                     /* recommend 7..8 */
    int64_t detractors;                                   /* recommend 0..6 */
    int64_t speed_answers, speed_sum;                     /* answers with a speed score */
    int64_t professionalism_answers, professionalism_sum; /* … with a professionalism score */
    int64_t rejected; /* answers fed in with out-of-range scores (ignored) */
} survey_tally_t;

typedef struct {
    int64_t sent, answered;
    int has_response_rate;
    double response_rate; /* 0..1 */
    int has_satisfied_share;
    double satisfied_share; /* 0..1 */
    double target;          /* the satisfied-share target */
    int meets_target;       /* satisfied_share >= target (0 without answers) */
    int has_nps;
    double nps; /* -100..100 */
    int has_avg_satisfaction;
    double avg_satisfaction; /* 1..5 */
    int has_avg_recommend;
    double avg_recommend; /* 0..10 */
    int has_avg_speed;
    double avg_speed; /* 1..5 */
    int has_avg_professionalism;
    double avg_professionalism; /* 1..5 */
} survey_summary_t;

/* Start a tally for a period in which `sent` invitations went out. */
void survey_tally_init(survey_tally_t *t, int64_t sent);
/* Add `count` answers with these scores (recommend < 0: not given).
   Scores out of range are counted in t->rejected and otherwise ignored. */
void survey_tally_add(survey_tally_t *t, int satisfaction, int recommend, int64_t count);
/* The figures, against `target` (e.g. SURVEY_SATISFIED_TARGET). */
void survey_summary_compute(const survey_tally_t *t, double target, survey_summary_t *out);

#endif
