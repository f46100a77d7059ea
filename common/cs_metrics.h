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
#include <stdint.h>

/* Declare a metric family once (help text and type). Optional: an
   undeclared family renders as "untyped". */
void cs_metric_declare(const char *name, const char *type, const char *help);
/* labels: the Prometheus label set without braces, e.g. "stream=\"intake-0\"", or "". */
void cs_counter_add(const char *name, const char *labels, double v);
void cs_gauge_set(const char *name, const char *labels, double v);
/* Observe a value in seconds into a histogram with the latency buckets. */
void cs_histogram_observe(const char *name, const char *labels, double seconds);
double cs_metric_value(const char *name, const char *labels);
/* Render all series; caller frees. */
char *cs_metrics_render(void);
void cs_metrics_reset(void); /* tests */

#endif
