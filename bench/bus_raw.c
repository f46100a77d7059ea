/*
 * bus_raw — the yardstick for bench/bus.py: plain CZMQ PUB → SUB over TCP
 * loopback between two processes, with the message shape petrocs sends
 * ([topic][envelope] of the given size) and nothing else: no database, no
 * numbering, no checkpoint. What the lossless bus costs is the distance from
 * this figure.
 *
 *   bus_raw -n N -s BYTES [-r RATE] [-p PORT]
 *
 * The publisher stamps each message with CLOCK_MONOTONIC (shared by the two
 * processes of one machine); the subscriber measures send → receive latency.
 * Prints one JSON line: sent, received, seconds, events/s, p50/p99 latency.
 * -r paces the publisher at RATE messages/s (0 = flat out).
 */
#include <czmq.h>
#include <poll.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t s_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Subscriber: tell the parent (ready_fd) once the first warm-up message
   arrives, then take n stamped messages (or stop after 2 s of silence). */
static int s_subscribe(const char *ep, int64_t n, int ready_fd, int result_fd)
{
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_rcvhwm(sub, 100000);
    zsock_set_subscribe(sub, "");
    zsock_set_rcvtimeo(sub, 2000);
    if (zsock_connect(sub, "%s", ep) < 0)
        return 1;
    int64_t *lat = calloc((size_t)n, sizeof(*lat));
    int64_t got = 0, first_sent = 0, last_recv = 0;
    int told = 0;
    while (got < n) {
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            break; /* silence: the rest was dropped */
        zframe_t *body = zmsg_last(msg);
        int64_t now = s_mono_ns(), sent;
        if (zframe_size(body) >= 9 && zframe_data(body)[0] == 'M') {
            memcpy(&sent, zframe_data(body) + 1, sizeof(sent));
            if (!first_sent)
                first_sent = sent;
            lat[got++] = now - sent;
            last_recv = now;
        } else if (!told) {
            told = 1;
            if (write(ready_fd, "r", 1) != 1)
                return 1;
        }
        zmsg_destroy(&msg);
    }
    qsort(lat, (size_t)got, sizeof(*lat), s_cmp_i64);
    double secs = got ? (double)(last_recv - first_sent) / 1e9 : 0;
    char line[512];
    int len = snprintf(line, sizeof(line),
                       "{\"sent\":%" PRId64 ",\"received\":%" PRId64 ",\"seconds\":%.3f,"
                       "\"events_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
                       n, got, secs, secs > 0 ? (double)got / secs : 0,
                       got ? (double)lat[got / 2] / 1e3 : 0,
                       got ? (double)lat[(got * 99) / 100] / 1e3 : 0);
    if (write(result_fd, line, (size_t)len) != len)
        return 1;
    free(lat);
    zsock_destroy(&sub);
    return 0;
}

int main(int argc, char **argv)
{
    int64_t n = 100000, size = 160, rate = 0, port = 17790;
    int opt;
    while ((opt = getopt(argc, argv, "n:s:r:p:")) != -1) {
        int64_t *v = opt == 'n' ? &n : opt == 's' ? &size : opt == 'r' ? &rate : &port;
        if (opt == '?' || sscanf(optarg, "%" SCNd64, v) != 1 || *v < 0) {
            fprintf(stderr, "usage: bus_raw -n N -s BYTES [-r RATE] [-p PORT]\n");
            return 2;
        }
    }
    if (n < 1 || size < 9 || size > 1 << 20) {
        fprintf(stderr, "bus_raw: need n >= 1 and 9 <= size <= 1 MiB\n");
        return 2;
    }
    char ep[64];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%" PRId64, port);
    int ready[2], result[2];
    if (pipe(ready) < 0 || pipe(result) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        zsys_handler_set(NULL);
        _exit(s_subscribe(ep, n, ready[1], result[1]));
    }
    zsys_handler_set(NULL);
    zsock_t *pub = zsock_new(ZMQ_PUB);
    zsock_set_sndhwm(pub, 100000);
    zsock_set_linger(pub, 5000);
    if (zsock_bind(pub, "%s", ep) < 0) {
        fprintf(stderr, "bus_raw: cannot bind %s\n", ep);
        return 1;
    }
    /* Warm up until the subscriber is connected (PUB drops what nobody
       subscribed to yet). */
    struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
    do
        zstr_sendx(pub, "warmup", "w", NULL);
    while (poll(&pfd, 1, 10) == 0);
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 1;
    uint8_t *payload = calloc(1, (size_t)size);
    payload[0] = 'M';
    int64_t interval = rate ? 1000000000 / rate : 0, next = s_mono_ns();
    for (int64_t i = 0; i < n; i++) {
        if (interval) {
            int64_t wait = next - s_mono_ns();
            if (wait > 200000)
                usleep((useconds_t)(wait / 1000 - 100));
            while (s_mono_ns() < next)
                ;
            next += interval;
        }
        int64_t now = s_mono_ns();
        memcpy(payload + 1, &now, sizeof(now));
        zframe_t *topic = zframe_new("test.event", 10);
        zframe_t *body = zframe_new(payload, (size_t)size);
        zframe_send(&topic, pub, ZFRAME_MORE);
        zframe_send(&body, pub, 0);
    }
    char line[512];
    ssize_t len = read(result[0], line, sizeof(line) - 1);
    int status = 0;
    waitpid(child, &status, 0);
    zsock_destroy(&pub);
    free(payload);
    if (len <= 0)
        return 1;
    line[len] = 0;
    fputs(line, stdout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
