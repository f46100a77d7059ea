/*
 * intake_parse — the parse cost of intake's mail parser (mail_parse), on one core.
 *
 *   intake_parse SECONDS FILE...
 *
 * Reads the messages, then parses them round-robin for about SECONDS and prints one line
 * per file set: messages, bytes, messages/s, MB/s, µs per message. bench/intake.py writes
 * the messages (realistic 5–50 KB customer mails) and runs this.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "mail_parse.h"

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: intake_parse SECONDS FILE...\n");
        return 2;
    }
    double seconds = atof(argv[1]);
    int n = argc - 2;
    gchar **data = calloc((size_t)n, sizeof(*data));
    gsize *len = calloc((size_t)n, sizeof(*len));
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (!g_file_get_contents(argv[i + 2], &data[i], &len[i], NULL)) {
            fprintf(stderr, "cannot read %s\n", argv[i + 2]);
            return 1;
        }
        total += len[i];
    }
    mail_parse_init();
    long parsed = 0, failed = 0;
    size_t bytes = 0;
    double start = s_now(), now = start;
    while (now - start < seconds) {
        for (int i = 0; i < n; i++) {
            mail_parsed_t m;
            char err[256];
            if (mail_parse(data[i], len[i], &m, err, sizeof(err)) == 0)
                mail_parsed_free(&m);
            else
                failed++;
            parsed++;
            bytes += len[i];
        }
        now = s_now();
    }
    double el = now - start;
    printf("messages %ld failed %ld avg_bytes %zu msgs_per_s %.0f mb_per_s %.1f us_per_msg %.1f\n",
           parsed, failed, total / (size_t)n, parsed / el, bytes / el / 1e6, el * 1e6 / parsed);
    return 0;
}
