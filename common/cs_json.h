/*
 * cs_json — small helpers every service's HTTP API uses to build answers
 * with jansson from database values.
 *
 * json_string() returns NULL for text that is not valid UTF-8, and
 * json_object_set_new() then silently drops the key; these helpers never
 * return NULL, so an answer always has every key it promises.
 */
#ifndef CS_JSON_H
#define CS_JSON_H
#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>

/* A string ("" for NULL or text that is not valid UTF-8). */
json_t *cs_json_str(const char *s);
/* A string, or null for NULL / "". */
json_t *cs_json_str_or_null(const char *s);
/* ms since the epoch as "2026-12-03T08:00:00.000Z", or null for 0 or less. */
json_t *cs_json_time(int64_t ms);
/* A result column as a string, or null when SQL NULL. */
json_t *cs_json_col(const PGresult *r, int row, int col);

#endif
