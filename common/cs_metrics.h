/*
 * cs_metrics — Prometheus counters, gauges and histograms, rendered in the
 * text exposition format on GET /metrics.
 *
 * Series are found by (name, labels) in a small table under one mutex; the
 * hot paths here (an event applied, an HTTP request) are microseconds long,
 * so one uncontended lock per update costs nothing measurable.
 */
#ifndef CS_METRICS_H
#define CS_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* Declare a metric family once (help text and type). Optional: an
   undeclared family renders as "untyped". */
void cs_metric_declare(const char *name, const char *type, const char *help);
/* labels: the Prometheus label set without braces, e.g. "stream=\"intake-0\"", or "". */
void cs_counter_add(const char *name, const char *labels, double v);
void cs_gauge_set(const char *name, const char *labels, double v);
/* A counter kept elsewhere (monotonic, e.g. a module's own statistics),
   copied in: the series takes the value v. */
void cs_counter_set(const char *name, const char *labels, double v);
/* A gauge family computed as a whole (e.g. a GROUP BY in a tick): sets the n
   series labels[i] = values[i] and sets every other series of the family
   seen before to 0, all under the lock, so that a scrape never sees half
   of one refresh and a group that emptied reads 0 rather than its last
   value. The series ever seen stay (bounded by the table's cap). */
void cs_gauge_set_family(const char *name, int n, const char *const *labels, const double *values);
/* Observe a value in seconds into a histogram with the latency buckets. */
void cs_histogram_observe(const char *name, const char *labels, double seconds);
/* Gauges computed from the database in a service's tick refresh this often. */
#define CS_GAUGE_EVERY_MS 10000
/* 1 when such a gauge is due (first call: at once), moving *next_mono_ms on
   by CS_GAUGE_EVERY_MS; 0 otherwise. */
int cs_gauge_due(int64_t *next_mono_ms);
/* A label value from outside (a database column), escaped for the text
   format (\\, \", \n) and cut to fit out. */
void cs_metric_label_value(char *out, size_t size, const char *in);
double cs_metric_value(const char *name, const char *labels);
/* Render all series; caller frees. */
char *cs_metrics_render(void);
void cs_metrics_reset(void); /* tests */

#endif
