-- The bus tables every service schema holds (DESIGN.md §3, §5).
--
-- outbox: events written in the same transaction as the business change.
-- The relay of stream `origin` numbers committed rows (seq) in id order and
-- publishes them; rows stay for replay until pruned by age.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    origin      text        NOT NULL,         -- the instance stream, e.g. dispatch-0
    seq         bigint,                       -- dense per-stream number, set by the relay
    topic       text        NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    envelope    bytea       NOT NULL,         -- packed Envelope without stream/sequence
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (origin, seq)
);
CREATE INDEX outbox_unnumbered ON outbox (origin, id) WHERE seq IS NULL;

-- The head of each stream this schema's relays number.
CREATE TABLE bus_stream (
    stream      text PRIMARY KEY,
    head        bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Consumer side: last sequence applied per stream read.
CREATE TABLE inbox_checkpoint (
    stream      text PRIMARY KEY,
    last_seq    bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A wake-up for the relay; polling covers a lost notification.
CREATE FUNCTION outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cs_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake();
