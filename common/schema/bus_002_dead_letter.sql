-- Events a consumer could not read at all (too large, undecodable, unknown
-- type, wrong stream). They are set aside here, with their bytes, in the
-- same transaction that moves the checkpoint past them, so that one bad
-- event never stops a stream and nothing is thrown away. An operator reads
-- this table (cs_bus_dead_letters_total and /readyz warn about it).
CREATE TABLE bus_dead_letter (
    id        bigserial PRIMARY KEY,
    stream    text NOT NULL,
    seq       bigint NOT NULL,
    reason    text NOT NULL,
    envelope  bytea NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream, seq)
);
