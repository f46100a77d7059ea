/*
 * fuzz_envelope — libFuzzer target for cs_envelope_decode(), the one door
 * through which every bus frame (live from SUB, or replayed from DEALER)
 * enters a consumer.
 *
 * The rule under test (DESIGN.md §3, cs_bus.h): hostile bytes give NULL and a
 * stable reason, never a crash; what decodes is an envelope whose type is
 * known, whose body case is the one its type demands, whose body is present,
 * and whose every string a handler may read is a NUL-terminated string.
 * What decodes must also survive the trip the publisher gives it: packed
 * again it decodes to the same bytes, and prefixed with a relay's
 * {stream, sequence} (s_wire_frame) it still decodes, with that sequence.
 *
 * Seeds: tests/fuzz/corpus/envelope (made by tests/fuzz/gen_corpus.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cs_bus.h"
#include "fuzz_walk.h"

#define FUZZ_MAX_BYTES (64 * 1024)

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_envelope: %s\n", what);
    abort();
}

/* The body a decoded envelope carries (NULL when absent: never, once decoded). */
static const ProtobufCMessage *s_body(const Cs__Envelope *env)
{
    switch (env->body_case) {
    case CS__ENVELOPE__BODY_HEARTBEAT:
        return (const ProtobufCMessage *)env->heartbeat;
    case CS__ENVELOPE__BODY_TICKET_CREATED:
        return (const ProtobufCMessage *)env->ticket_created;
    case CS__ENVELOPE__BODY_CUSTOMER_REPLIED:
        return (const ProtobufCMessage *)env->customer_replied;
    case CS__ENVELOPE__BODY_MAIL_REJECTED:
        return (const ProtobufCMessage *)env->mail_rejected;
    case CS__ENVELOPE__BODY_CUSTOMER_UPSERTED:
        return (const ProtobufCMessage *)env->customer_upserted;
    case CS__ENVELOPE__BODY_CALL_EVENT:
        return (const ProtobufCMessage *)env->call_event;
    case CS__ENVELOPE__BODY_TICKET_EVENT:
        return (const ProtobufCMessage *)env->ticket_event;
    case CS__ENVELOPE__BODY_CLOCK_EVENT:
        return (const ProtobufCMessage *)env->clock_event;
    case CS__ENVELOPE__BODY_COMPLAINT_EVENT:
        return (const ProtobufCMessage *)env->complaint_event;
    case CS__ENVELOPE__BODY_SURVEY_EVENT:
        return (const ProtobufCMessage *)env->survey_event;
    case CS__ENVELOPE__BODY_NOTIFICATION_EVENT:
        return (const ProtobufCMessage *)env->notification_event;
    default:
        s_fail("decoded an envelope without a body");
        return NULL;
    }
}

/* Everything a consumer may rely on once cs_envelope_decode() said yes. */
static void s_check_decoded(const Cs__Envelope *env)
{
    if (!protobuf_c_message_check(&env->base))
        s_fail("decoded envelope fails protobuf_c_message_check");
    if (cs_bus_type_body(env->type) != env->body_case)
        s_fail("decoded envelope whose body does not match its type");
    if (!s_body(env))
        s_fail("decoded envelope with its body case set and no body");
    fuzz_walk_message(&env->base, &cs__envelope__descriptor, 0);
    /* What s_deliver_live reads of a heartbeat. */
    if (env->body_case == CS__ENVELOPE__BODY_HEARTBEAT) {
        char health[16];
        snprintf(health, sizeof(health), "%s", env->heartbeat->health);
        fuzz_walk_sink += env->heartbeat->head + (size_t)health[0];
    }
}

/* Pack env into a fresh buffer (caller frees). */
static uint8_t *s_pack(const Cs__Envelope *env, size_t *len)
{
    *len = cs__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf)
        s_fail("out of memory");
    if (cs__envelope__pack(env, buf) != *len)
        s_fail("pack wrote another size than get_packed_size said");
    return buf;
}

/* Packed again, a decoded envelope must decode to the same canonical bytes. */
static void s_check_round_trip(const Cs__Envelope *env)
{
    size_t len1, len2;
    uint8_t *once = s_pack(env, &len1);
    const char *why = NULL;
    Cs__Envelope *again = cs_envelope_decode(once, len1, SIZE_MAX, &why);
    if (!again)
        s_fail("a decoded envelope, packed again, no longer decodes");
    uint8_t *twice = s_pack(again, &len2);
    if (len1 != len2 || memcmp(once, twice, len1) != 0)
        s_fail("packing a decoded envelope is not stable");
    cs__envelope__free_unpacked(again, NULL);
    free(twice);
    free(once);
}

/* The relay sends a stored envelope after a packed {stream, sequence}. */
static void s_check_wire_frame(const uint8_t *data, size_t len)
{
    Cs__Envelope head = CS__ENVELOPE__INIT;
    head.stream = "fuzz-0";
    head.sequence = 42;
    size_t plen = cs__envelope__get_packed_size(&head);
    uint8_t *frame = malloc(plen + len);
    if (!frame)
        s_fail("out of memory");
    cs__envelope__pack(&head, frame);
    memcpy(frame + plen, data, len);
    const char *why = NULL;
    Cs__Envelope *env = cs_envelope_decode(frame, plen + len, SIZE_MAX, &why);
    /* The stored bytes may name their own stream or sequence (later fields
       win when messages merge); a consumer then sets the event aside. What
       must hold is that the frame still decodes and is still sound. */
    if (!env)
        s_fail("a decodable envelope behind a relay prefix no longer decodes");
    s_check_decoded(env);
    cs__envelope__free_unpacked(env, NULL);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    Cs__Envelope *env = cs_envelope_decode(data, size, FUZZ_MAX_BYTES, &why);
    if (!env) {
        if (!why || !(strcmp(why, "too_large") == 0 || strcmp(why, "undecodable") == 0 ||
                      strcmp(why, "unknown_type") == 0 || strcmp(why, "body_mismatch") == 0))
            s_fail("refused without one of the stable reasons");
        return 0;
    }
    s_check_decoded(env);
    s_check_round_trip(env);
    s_check_wire_frame(data, size);
    cs__envelope__free_unpacked(env, NULL);
    return 0;
}
