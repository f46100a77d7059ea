-- The outbox in two tables (docs/architecture.md, "Outbox: pending and log").
--
-- bus_pending: events written by business transactions and not yet numbered.
-- It stays small (the relay empties it), so finding the next rows to number
-- is a short index range whatever the history: with one table, the relay's
-- scan for "seq IS NULL" walked every numbered row kept for replay.
-- bus_log: numbered events, the stream kept for replay until retention prunes
-- it; one row per (stream, sequence), written once.
-- outbox: a view of both, in the shape the table had before (seq NULL while
-- pending), for operators and tests.
CREATE TABLE bus_pending (
    origin      text        NOT NULL,   -- the instance stream, e.g. dispatch-0
    id          bigserial,              -- commit order is not id order: only the relay numbers
    topic       text        NOT NULL,
    event_id    uuid        NOT NULL,   -- random (v4): unique without an index to prove it
    envelope    bytea       NOT NULL,   -- packed Envelope without stream/sequence
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (origin, id)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000,
        autovacuum_vacuum_cost_delay = 0);

-- Every pending id is taken after its transaction has an xid (bus_next_id):
-- the relay relies on it to know when no transaction that could still commit
-- a row below some id is running (cs_bus.c, "the relay's low-water mark").
-- The sequence is named with its schema: the function may run under any
-- search_path (an operator's psql).
DO $do$ BEGIN
    EXECUTE format($f$
        CREATE FUNCTION bus_next_id() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $b$
        BEGIN
            PERFORM pg_current_xact_id();
            RETURN nextval(%L);
        END $b$ $f$, quote_ident(current_schema()) || '.bus_pending_id_seq');
END $do$;
ALTER TABLE bus_pending ALTER COLUMN id SET DEFAULT bus_next_id();

-- For the relay: the last id taken (read under the sequence's buffer lock — a
-- plain SELECT from the sequence can see the value nextval writes into its
-- WAL record, up to 32 ahead), then an xid taken after it, in that order.
DO $do$ BEGIN
    EXECUTE format($f$
        CREATE FUNCTION bus_low_candidate(OUT last_id bigint, OUT after_xid bigint)
        LANGUAGE plpgsql VOLATILE AS $b$
        BEGIN
            last_id := coalesce(pg_sequence_last_value(%L), 0);
            after_xid := pg_current_xact_id()::text::bigint;
        END $b$ $f$, quote_ident(current_schema()) || '.bus_pending_id_seq');
END $do$;

-- Every pending id at or below low_id has been numbered or was never committed.
ALTER TABLE bus_stream ADD COLUMN low_id bigint NOT NULL DEFAULT 0;

CREATE TABLE bus_log (
    origin      text        NOT NULL,
    seq         bigint      NOT NULL,   -- dense per stream, from 1
    id          bigint      NOT NULL,   -- the pending id it had (commit order forensics)
    topic       text        NOT NULL,
    event_id    uuid        NOT NULL,
    envelope    bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (origin, seq)
);

INSERT INTO bus_log (origin, seq, id, topic, event_id, envelope, created_at)
    SELECT origin, seq, id, topic, event_id, envelope, created_at FROM outbox WHERE seq IS NOT NULL;
INSERT INTO bus_pending (origin, id, topic, event_id, envelope, created_at)
    SELECT origin, id, topic, event_id, envelope, created_at FROM outbox WHERE seq IS NULL;
SELECT setval(pg_get_serial_sequence('bus_pending', 'id'),
              (SELECT coalesce(max(id), 0) + 1 FROM outbox), false);

-- The relay is woken inside the process that commits (cs_db commit hook);
-- a NOTIFY per statement serialised every committing producer on the
-- notification queue's lock. Polling still covers rows written by hand.
DROP TRIGGER outbox_wake ON outbox;
DROP FUNCTION outbox_wake();
DROP TABLE outbox;

CREATE VIEW outbox AS
    SELECT id, origin, seq, topic, event_id, envelope, created_at FROM bus_log
    UNION ALL
    SELECT id, origin, NULL::bigint, topic, event_id, envelope, created_at FROM bus_pending;
