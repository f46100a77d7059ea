/*
 * fuzz_walk — read every field of an unpacked protobuf-c message, as a
 * consumer could, so that the sanitizers see each byte a handler might touch.
 *
 * Why generic: the walk follows the message descriptors, so a field added to
 * proto/ is fuzzed without anyone remembering to list it here. A broken
 * invariant (a NULL string, a repeated field with a count and no array, a
 * sub-message of the wrong type) aborts, which libFuzzer reports as a crash.
 */
#ifndef FUZZ_WALK_H
#define FUZZ_WALK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>

#define FUZZ_WALK_MAX_DEPTH 16

/* Somewhere to put what was read, so the reads are not optimised away. */
static volatile size_t fuzz_walk_sink;

static void fuzz_walk_fail(const char *what, const ProtobufCFieldDescriptor *fd)
{
    fprintf(stderr, "fuzz_walk: %s (field %s)\n", what, fd ? fd->name : "-");
    abort();
}

static void fuzz_walk_message(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *want,
                              int depth);

/* Size of one element of a repeated field, as protobuf-c lays it out. */
static size_t fuzz_walk_elem_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* 32-bit integers, float, enum */
    }
}

/* Read one value of field fd stored at p. */
static void fuzz_walk_value(const ProtobufCFieldDescriptor *fd, const void *p, int depth)
{
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        if (!s)
            fuzz_walk_fail("NULL string", fd);
        fuzz_walk_sink += strlen(s); /* runs off the end if not NUL-terminated */
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        if (b->len && !b->data)
            fuzz_walk_fail("bytes with a length and no data", fd);
        for (size_t i = 0; i < b->len; i++)
            fuzz_walk_sink += b->data[i];
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub) /* proto3: an absent sub-message is NULL; readers check */
            fuzz_walk_message(sub, fd->descriptor, depth + 1);
        break;
    }
    default: {
        unsigned char v[8];
        memcpy(v, p, fuzz_walk_elem_size(fd->type));
        fuzz_walk_sink += v[0];
        break;
    }
    }
}

static void fuzz_walk_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
                            int depth)
{
    const char *base = (const char *)m;
    if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which;
        memcpy(&which, base + fd->quantifier_offset, sizeof(which));
        if (which != fd->id)
            return; /* another member of the oneof, or none */
    }
    if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
        fuzz_walk_value(fd, base + fd->offset, depth);
        return;
    }
    size_t n;
    const char *items;
    memcpy(&n, base + fd->quantifier_offset, sizeof(n));
    memcpy(&items, base + fd->offset, sizeof(items));
    if (n && !items)
        fuzz_walk_fail("repeated field with a count and no array", fd);
    for (size_t i = 0; i < n; i++)
        fuzz_walk_value(fd, items + i * fuzz_walk_elem_size(fd->type), depth);
}

/* Walk m, which must be a message of type want. */
static void fuzz_walk_message(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *want,
                              int depth)
{
    if (depth > FUZZ_WALK_MAX_DEPTH)
        fuzz_walk_fail("nesting deeper than any proto/ message", NULL);
    if (m->descriptor != want)
        fuzz_walk_fail("sub-message of the wrong type", NULL);
    for (unsigned i = 0; i < want->n_fields; i++)
        fuzz_walk_field(m, &want->fields[i], depth);
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        for (size_t j = 0; j < m->unknown_fields[i].len; j++)
            fuzz_walk_sink += m->unknown_fields[i].data[j];
}

#endif
