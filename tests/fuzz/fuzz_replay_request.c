/*
 * fuzz_replay_request — libFuzzer target for the request frame a publisher's
 * replay socket (ROUTER) accepts from anyone who connects.
 *
 * cs_publisher_on_replay() needs a socket and a database, so this target
 * repeats its parsing steps on the bytes alone, in the same order: refuse a
 * frame above 1024 bytes, unpack a ReplayRequest, compare its stream with the
 * one served, then bound the range and the batch. Keep the steps in step with
 * cs_bus.c. The rule: any bytes give a refusal or a request whose stream is
 * a NUL-terminated string and whose range and batch end up bounded.
 *
 * Seeds: tests/fuzz/corpus/replay_request (made by tests/fuzz/gen_corpus.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bus.pb-c.h"
#include "fuzz_walk.h"

#define REQUEST_MAX_BYTES 1024  /* cs_publisher_on_replay's cap */
#define REPLAY_MAX_EVENTS 500   /* cs_bus.c */
#define SERVED_STREAM "fuzz-0"
#define SERVED_HEAD 1000

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_replay_request: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > REQUEST_MAX_BYTES)
        return 0;
    Cs__ReplayRequest *req = cs__replay_request__unpack(NULL, size, data);
    if (!req)
        return 0;
    if (!protobuf_c_message_check(&req->base))
        s_fail("unpacked request fails protobuf_c_message_check");
    fuzz_walk_message(&req->base, &cs__replay_request__descriptor, 0);
    if (req->stream[0] && strcmp(req->stream, SERVED_STREAM) != 0)
        goto out; /* "unknown stream" */
    uint64_t head = SERVED_HEAD;
    if (req->from_seq == 0 || req->from_seq > head)
        goto out; /* just the head */
    uint64_t to = req->to_seq && req->to_seq < head ? req->to_seq : head;
    uint32_t max = req->max_events && req->max_events < REPLAY_MAX_EVENTS ? req->max_events
                                                                          : REPLAY_MAX_EVENTS;
    /* The range goes to SQL as int64 text: it must stay within the head. */
    if (to > head || req->from_seq > (uint64_t)INT64_MAX || max == 0 || max > REPLAY_MAX_EVENTS)
        s_fail("replay range or batch not bounded");
out:
    cs__replay_request__free_unpacked(req, NULL);
    return 0;
}
