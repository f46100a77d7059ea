-- sla-monitor's tables (DESIGN.md §5; services/sla/clock.h for the model).
--
-- clocks: one row per commitment per ticket, unique by (ticket_id, target),
-- which is what makes arming idempotent however often dispatch's events
-- arrive. The warned flag and the state are the "once" of sla.warning and
-- sla.breached: the tick only picks running clocks whose warn_at / deadline
-- has passed, through the two partial indexes below, and flips the flag in
-- the same transaction that emits the event, so a restart never repeats one.
-- Instants cross the C boundary as ms since the epoch (the bus's unit);
-- both conversions are exact at the millisecond. 0 stands for "never".
CREATE FUNCTION ms_ts(ms bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT to_timestamp(nullif(ms, 0) / 1000.0) $$;
CREATE FUNCTION ts_ms(t timestamptz) RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT coalesce((extract(epoch FROM t) * 1000)::bigint, 0) $$;

CREATE TABLE clocks (
    id              uuid        PRIMARY KEY,
    ticket_id       uuid        NOT NULL,
    number          text        NOT NULL,
    target          text        NOT NULL CHECK (target IN ('first_response', 'resolution')),
    priority        text        NOT NULL,
    policy          text        NOT NULL,              -- calendar name, e.g. 7x24
    round           int         NOT NULL DEFAULT 1,    -- +1 when a reopen re-arms it
    state           text        NOT NULL
                    CHECK (state IN ('running', 'paused', 'met', 'breached', 'stopped')),
    target_minutes  int         NOT NULL CHECK (target_minutes > 0),
    target_ms       bigint      NOT NULL CHECK (target_ms > 0),
    started_at      timestamptz NOT NULL,
    warn_at         timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    paused_at       timestamptz,
    warned          boolean     NOT NULL DEFAULT false,
    met_at          timestamptz,
    breached_at     timestamptz,
    stopped_at      timestamptz,                       -- stopped counting (met, late, closed)
    team            text        NOT NULL DEFAULT '',
    assignee        text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, target)
);
CREATE INDEX clocks_number ON clocks (number);
CREATE INDEX clocks_state ON clocks (state, deadline);
-- What the tick asks every second, answered from the index alone.
CREATE INDEX clocks_breach_due ON clocks (deadline) WHERE state = 'running';
CREATE INDEX clocks_warning_due ON clocks (warn_at) WHERE state = 'running' AND NOT warned;

-- clock_events: each clock's history. One row per kind per round: the
-- unique key is the database's own guard that no signal is recorded twice.
CREATE TABLE clock_events (
    id              bigserial   PRIMARY KEY,
    clock_id        uuid        NOT NULL REFERENCES clocks (id),
    round           int         NOT NULL,
    kind            text        NOT NULL
                    CHECK (kind IN ('armed', 'warning', 'breached', 'met', 'fulfilled_late',
                                    'stopped')),
    at              timestamptz NOT NULL,
    percent         int         NOT NULL,
    source_event_id text,                              -- the dispatch event, NULL for the tick
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (clock_id, round, kind)
);
