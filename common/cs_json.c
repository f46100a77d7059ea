#include "cs_ids.h"
#include "cs_json.h"

json_t *cs_json_str(const char *s)
{
    json_t *j = json_string(s ? s : "");
    return j ? j : json_string("");
}

json_t *cs_json_str_or_null(const char *s)
{
    return s && *s ? cs_json_str(s) : json_null();
}

json_t *cs_json_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[40];
    cs_iso8601(ms, buf, sizeof(buf));
    return json_string(buf);
}

json_t *cs_json_col(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : cs_json_str(PQgetvalue(r, row, col));
}
