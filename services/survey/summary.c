/*
 * summary.c - satisfaction figures from answer counts (see summary.h).
 */
#include "summary.h"
#include "cs_civil.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int survey_is_low_score(int satisfaction)
{
    return satisfaction >= 1 && satisfaction <= SURVEY_LOW_SCORE_MAX;
}

/* Words that say "I am complaining", whatever the scores say.  Chinese ones
   match anywhere (no spaces between words); single characters like 差 are
   left out on purpose (差不多 is "about right"). */
static const char *const s_words_zh[] = {
    "投诉",     "不满",   "太慢",     "很慢",   "拖延",   "拖拉",   "推诿",
    "敷衍",     "失望",   "糟糕",     "很差",   "太差",   "服务差", "态度差",
    "态度不好", "没人管", "没有解决", "未解决", "不专业", "再也不",
};
/* English ones match at the start of a word: "complain" catches complaint(s),
   complained; "disappoint" catches disappointed, disappointing. */
static const char *const s_words_en[] = {
    "complain",     "terrible",    "awful",   "poor",        "slow",           "unacceptable",
    "disappoint",   "rude",        "worst",   "useless",     "unprofessional", "unresolved",
    "not resolved", "never again", "ignored", "incompetent",
};

int survey_has_complaint_word(const char *comment)
{
    if (!comment)
        return 0;
    for (size_t i = 0; i < sizeof(s_words_zh) / sizeof(*s_words_zh); i++)
        if (strstr(comment, s_words_zh[i]))
            return 1;
    for (const char *p = comment; *p; p++) {
        if (p != comment && isalpha((unsigned char)p[-1]))
            continue; /* not the start of a word */
        for (size_t i = 0; i < sizeof(s_words_en) / sizeof(*s_words_en); i++)
            if (strncasecmp(p, s_words_en[i], strlen(s_words_en[i])) == 0)
                return 1;
    }
    return 0;
}

const char *survey_low_score_reason(int satisfaction, int recommend, const char *comment)
{
    if (survey_is_low_score(satisfaction))
        return "satisfaction";
    if (recommend >= 0 && recommend <= 6 && survey_has_complaint_word(comment))
        return "comment";
    return NULL;
}

/* n digits at s as a number, or -1. */
static int s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int s_all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* "HH:MM:SS[.fff…](Z|±HH:MM)" after the 'T'; adds to *ms. */
static int s_parse_clock(const char *s, int64_t *ms)
{
    int hh = -1, mi = -1, ss = -1;
    /* each field is read only once the one before it was whole */
    if ((hh = s_digits(s, 2)) < 0 || s[2] != ':' || (mi = s_digits(s + 3, 2)) < 0 || s[5] != ':' ||
        (ss = s_digits(s + 6, 2)) < 0 || hh > 23 || mi > 59 || ss > 59)
        return -1;
    const char *p = s + 8;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                frac = frac * 10 + (*p - '0');
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (*p == 'Z' && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = s_digits(p + 1, 2), om = s_digits(p + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59)
            return -1;
        offset = (*p == '+' ? 1 : -1) * ((int64_t)oh * 60 + om) * 60000;
    } else {
        return -1;
    }
    *ms += ((int64_t)hh * 3600 + mi * 60 + ss) * 1000 + frac - offset;
    return 0;
}

int survey_parse_time(const char *s, int64_t *ms)
{
    if (!s || strlen(s) > 40)
        return -1;
    if (s_all_digits(s)) {
        if (strlen(s) > 15) /* beyond year 33658: not a period bound */
            return -1;
        *ms = strtoll(s, NULL, 10);
        return 0;
    }
    int y = s_digits(s, 4), m = -1, d = -1;
    if (y < 1970 || s[4] != '-' || (m = s_digits(s + 5, 2)) < 1 || m > 12 || s[7] != '-' ||
        (d = s_digits(s + 8, 2)) < 1 || d > cs_days_in_month(y, m))
        return -1;
    int64_t out = cs_days_from_civil(y, m, d) * 86400000;
    if (s[10] == 'T' && s_parse_clock(s + 11, &out) == 0) {
        *ms = out;
        return 0;
    }
    if (s[10] != '\0')
        return -1;
    *ms = out;
    return 0;
}

void survey_tally_init(survey_tally_t *t, int64_t sent)
{
    memset(t, 0, sizeof(*t));
    t->sent = sent > 0 ? sent : 0;
}

void survey_tally_add(survey_tally_t *t, int satisfaction, int recommend, int64_t count)
{
    if (count <= 0)
        return;
    if (satisfaction < 1 || satisfaction > 5 || recommend > 10) {
        t->rejected += count;
        return;
    }
    t->answered += count;
    t->satisfaction_sum += (int64_t)satisfaction * count;
    if (satisfaction >= 4)
        t->satisfied += count;
    if (recommend < 0)
        return;
    t->recommend_answers += count;
    t->recommend_sum += (int64_t)recommend * count;
    if (recommend >= 9)
        t->promoters += count;
    else if (recommend >= 7)
        t->passives += count;
    else
        t->detractors += count;
}

void survey_summary_compute(const survey_tally_t *t, double target, survey_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    out->sent = t->sent;
    out->answered = t->answered;
    out->target = target;
    if (t->sent > 0) {
        out->has_response_rate = 1;
        out->response_rate = (double)t->answered / (double)t->sent;
    }
    if (t->answered > 0) {
        out->has_satisfied_share = 1;
        out->satisfied_share = (double)t->satisfied / (double)t->answered;
        /* compare in counts, so 9 of 10 meets 0.9 without rounding doubt */
        out->meets_target = (double)t->satisfied >= target * (double)t->answered - 1e-9;
        out->has_avg_satisfaction = 1;
        out->avg_satisfaction = (double)t->satisfaction_sum / (double)t->answered;
    }
    if (t->recommend_answers > 0) {
        out->has_nps = 1;
        out->nps = 100.0 * (double)(t->promoters - t->detractors) / (double)t->recommend_answers;
        out->has_avg_recommend = 1;
        out->avg_recommend = (double)t->recommend_sum / (double)t->recommend_answers;
    }
    if (t->speed_answers > 0) {
        out->has_avg_speed = 1;
        out->avg_speed = (double)t->speed_sum / (double)t->speed_answers;
    }
    if (t->professionalism_answers > 0) {
        out->has_avg_professionalism = 1;
        out->avg_professionalism =
            (double)t->professionalism_sum / (double)t->professionalism_answers;
    }
}
