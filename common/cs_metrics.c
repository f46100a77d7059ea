/*
 * cs_metrics — see cs_metrics.h. Fixed-size table: petrocs has a few hundred
 * series per service at most; a series beyond the cap is dropped with one log
 * line rather than growing without bound under hostile label values.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cs_ids.h"
#include "cs_log.h"
#include "cs_metrics.h"

#define MAX_FAMILIES 128
#define MAX_SERIES 2048
#define NBUCKETS 12

static const double s_buckets[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                           0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

typedef struct {
    char name[96];
    char type[12];
    char help[160];
} family_t;

typedef struct {
    char name[96];
    char labels[192];
    int kind; /* 0 counter/gauge, 1 histogram */
    double value;
    uint64_t bucket[NBUCKETS];
    uint64_t count;
    double sum;
} series_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static family_t s_family[MAX_FAMILIES];
static int s_nfamily;
static series_t s_series[MAX_SERIES];
static int s_nseries;
static int s_overflow_logged;

void cs_metric_declare(const char *name, const char *type, const char *help)
{
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < s_nfamily; i++)
        if (strcmp(s_family[i].name, name) == 0)
            goto out;
    if (s_nfamily < MAX_FAMILIES) {
        family_t *f = &s_family[s_nfamily++];
        snprintf(f->name, sizeof(f->name), "%s", name);
        snprintf(f->type, sizeof(f->type), "%s", type);
        snprintf(f->help, sizeof(f->help), "%s", help);
    }
out:
    pthread_mutex_unlock(&s_lock);
}

/* Find or create; called with the lock held. */
static series_t *s_find(const char *name, const char *labels, int kind)
{
    if (!labels)
        labels = "";
    for (int i = 0; i < s_nseries; i++)
        if (strcmp(s_series[i].name, name) == 0 && strcmp(s_series[i].labels, labels) == 0)
            return &s_series[i];
    if (s_nseries >= MAX_SERIES) {
        if (!s_overflow_logged++)
            cs_warn("metrics: series table full, dropping new series %s", name);
        return NULL;
    }
    series_t *s = &s_series[s_nseries++];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->labels, sizeof(s->labels), "%s", labels);
    s->kind = kind;
    return s;
}

void cs_counter_add(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&s_lock);
    series_t *s = s_find(name, labels, 0);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&s_lock);
}

void cs_gauge_set(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&s_lock);
    series_t *s = s_find(name, labels, 0);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&s_lock);
}

void cs_counter_set(const char *name, const char *labels, double v)
{
    cs_gauge_set(name, labels, v);
}

void cs_gauge_set_family(const char *name, int n, const char *const *labels, const double *values)
{
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < s_nseries; i++)
        if (s_series[i].kind == 0 && strcmp(s_series[i].name, name) == 0)
            s_series[i].value = 0;
    for (int i = 0; i < n; i++) {
        series_t *s = s_find(name, labels[i], 0);
        if (s)
            s->value = values[i];
    }
    pthread_mutex_unlock(&s_lock);
}

void cs_histogram_observe(const char *name, const char *labels, double seconds)
{
    pthread_mutex_lock(&s_lock);
    series_t *s = s_find(name, labels, 1);
    if (s) {
        for (int i = 0; i < NBUCKETS; i++)
            if (seconds <= s_buckets[i])
                s->bucket[i]++;
        s->count++;
        s->sum += seconds;
    }
    pthread_mutex_unlock(&s_lock);
}

int cs_gauge_due(int64_t *next_mono_ms)
{
    int64_t now = cs_mono_ms();
    if (now < *next_mono_ms)
        return 0;
    *next_mono_ms = now + CS_GAUGE_EVERY_MS;
    return 1;
}

void cs_metric_label_value(char *out, size_t size, const char *in)
{
    size_t n = 0;
    for (; in && *in && n + 3 < size; in++) {
        if (*in == '\\' || *in == '"') {
            out[n++] = '\\';
            out[n++] = *in;
        } else if (*in == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = *in;
        }
    }
    if (size)
        out[n < size ? n : size - 1] = 0;
}

double cs_metric_value(const char *name, const char *labels)
{
    double v = 0;
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < s_nseries; i++)
        if (strcmp(s_series[i].name, name) == 0 &&
            strcmp(s_series[i].labels, labels ? labels : "") == 0)
            v = s_series[i].kind ? (double)s_series[i].count : s_series[i].value;
    pthread_mutex_unlock(&s_lock);
    return v;
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf_t;

static void s_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return;
        b->buf = nb;
        b->cap = cap;
    }
}

static void s_render_series(sbuf_t *b, const series_t *s)
{
    const char *sep = s->labels[0] ? "," : "";
    if (s->kind == 0) {
        /* the exposition format spells these NaN, +Inf, -Inf (printf: nan, inf) */
        char v[32];
        if (isnan(s->value))
            snprintf(v, sizeof(v), "NaN");
        else if (isinf(s->value))
            snprintf(v, sizeof(v), "%sInf", s->value > 0 ? "+" : "-");
        else
            snprintf(v, sizeof(v), "%.17g", s->value);
        if (s->labels[0])
            s_printf(b, "%s{%s} %s\n", s->name, s->labels, v);
        else
            s_printf(b, "%s %s\n", s->name, v);
        return;
    }
    for (int i = 0; i < NBUCKETS; i++)
        s_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, s->labels, sep, s_buckets[i],
                 (unsigned long long)s->bucket[i]);
    s_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep,
             (unsigned long long)s->count);
    if (s->labels[0]) {
        s_printf(b, "%s_sum{%s} %.9g\n", s->name, s->labels, s->sum);
        s_printf(b, "%s_count{%s} %llu\n", s->name, s->labels, (unsigned long long)s->count);
    } else {
        s_printf(b, "%s_sum %.9g\n", s->name, s->sum);
        s_printf(b, "%s_count %llu\n", s->name, (unsigned long long)s->count);
    }
}

char *cs_metrics_render(void)
{
    sbuf_t b = {malloc(8192), 0, 8192};
    if (!b.buf)
        return NULL;
    b.buf[0] = 0;
    pthread_mutex_lock(&s_lock);
    /* Group series by family name, in first-seen order, each family once. */
    for (int i = 0; i < s_nseries; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(s_series[j].name, s_series[i].name) == 0;
        if (seen)
            continue;
        for (int f = 0; f < s_nfamily; f++)
            if (strcmp(s_family[f].name, s_series[i].name) == 0)
                s_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", s_family[f].name, s_family[f].help,
                         s_family[f].name, s_family[f].type);
        for (int j = i; j < s_nseries; j++)
            if (strcmp(s_series[j].name, s_series[i].name) == 0)
                s_render_series(&b, &s_series[j]);
    }
    pthread_mutex_unlock(&s_lock);
    return b.buf;
}

void cs_metrics_reset(void)
{
    pthread_mutex_lock(&s_lock);
    s_nseries = 0;
    s_nfamily = 0;
    pthread_mutex_unlock(&s_lock);
}
