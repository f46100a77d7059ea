-- Leaner clocks, and the next-update clock (issue 6, "Tests and speed";
-- docs/performance.md, "SLA", for the bytes each choice saves).
--
-- What an open clock costs is its row plus every index entry it has. This
-- migration rebuilds clocks so that:
--   - target and state are enums (4 bytes instead of up to 21 of text); the
--     enums list the values in the model's order (clock.h), so ORDER BY
--     target lists first_response, resolution, …;
--   - a clock's id is derived from its subject and target (clock_uuid()
--     below, computed the same way in C: clock_store.c), so a ticket's or a
--     complaint's clocks are found through the primary key alone and the
--     unique indexes on (ticket_id, target) and (complaint_id, target) are
--     gone — arming is idempotent by the primary key;
--   - the columns are ordered widest alignment first (no padding), and
--     created_at / updated_at, which nothing read, are dropped;
--   - the index on (state, deadline), which only the listing of clocks by
--     state reads, holds only the clocks not running (running ones are
--     listed through clocks_breach_due, which has the same order);
--   - the report's index on started_at is a BRIN index: clocks are armed in
--     about the order their rounds start, so a block range summary finds a
--     period's rows for a few bytes per thousand clocks.
-- Existing clocks keep their rows and history; their ids change to the
-- derived ones (the history follows; sla.* events emitted before carried
-- the old ids, which other services only keep as references).
CREATE TYPE clock_target AS ENUM ('first_response', 'resolution', 'complaint_acceptance',
                                  'complaint_handling', 'next_update');
CREATE TYPE clock_state AS ENUM ('running', 'paused', 'met', 'breached', 'stopped');

-- The id of subject's (a ticket's or a complaint's) clock of target: the
-- MD5 of '<subject uuid>/<target>' laid out as a name-based (version 3)
-- UUID. Written to be inlined by the planner (one expression).
CREATE FUNCTION clock_uuid(subject uuid, target text) RETURNS uuid LANGUAGE sql IMMUTABLE STRICT
    AS $$ SELECT (substr(md5(subject::text || '/' || target), 1, 12) || '3'
                  || substr(md5(subject::text || '/' || target), 14, 3)
                  || substr('89ab89ab89ab89ab',
                            strpos('0123456789abcdef',
                                   substr(md5(subject::text || '/' || target), 17, 1)), 1)
                  || substr(md5(subject::text || '/' || target), 18))::uuid $$;

ALTER TABLE clock_events DROP CONSTRAINT clock_events_clock_id_fkey;
ALTER TABLE clocks RENAME TO clocks_004;
ALTER INDEX clocks_pkey RENAME TO clocks_004_pkey; -- the name goes to the new table's key

CREATE TABLE clocks (
    target_ms         bigint        NOT NULL CHECK (target_ms > 0),
    started_at        timestamptz   NOT NULL,
    warn_at           timestamptz   NOT NULL,
    deadline          timestamptz   NOT NULL,
    paused_at         timestamptz,
    met_at            timestamptz,
    breached_at       timestamptz,
    stopped_at        timestamptz,                  -- stopped counting (met, late, closed)
    escalate_at       timestamptz,                  -- the next escalation level's moment
    round             int           NOT NULL DEFAULT 1,
    target_minutes    int           NOT NULL CHECK (target_minutes > 0),
    escalation_level  int           NOT NULL DEFAULT 0,
    target            clock_target  NOT NULL,
    state             clock_state   NOT NULL,
    id                uuid          PRIMARY KEY,    -- clock_uuid(ticket_id or complaint_id, target)
    ticket_id         uuid,
    complaint_id      uuid,
    origin_ticket_id  uuid,                         -- a complaint clock: the ticket it came from
    warned            boolean       NOT NULL DEFAULT false,
    number            text          NOT NULL,
    priority          text          NOT NULL,
    policy            text          NOT NULL,       -- calendar name, e.g. 7x24
    policy_id         text          NOT NULL DEFAULT '',
    team              text          NOT NULL DEFAULT '',
    assignee          text          NOT NULL DEFAULT '',
    service_type      text          NOT NULL DEFAULT '',
    tier              text          NOT NULL DEFAULT '',
    channel           text          NOT NULL DEFAULT '',
    CONSTRAINT clocks_one_subject CHECK ((ticket_id IS NULL) <> (complaint_id IS NULL)),
    CONSTRAINT clocks_subject_target CHECK (
        CASE WHEN ticket_id IS NOT NULL
             THEN target IN ('first_response', 'resolution', 'next_update')
             ELSE target IN ('complaint_acceptance', 'complaint_handling') END)
);

INSERT INTO clocks (target_ms, started_at, warn_at, deadline, paused_at, met_at, breached_at,
                    stopped_at, escalate_at, round, target_minutes, escalation_level, target,
                    state, id, ticket_id, complaint_id, origin_ticket_id, warned, number,
                    priority, policy, policy_id, team, assignee, service_type, tier, channel)
    SELECT target_ms, started_at, warn_at, deadline, paused_at, met_at, breached_at, stopped_at,
           escalate_at, round, target_minutes, escalation_level, target::clock_target,
           state::clock_state, clock_uuid(coalesce(ticket_id, complaint_id), target), ticket_id,
           complaint_id, origin_ticket_id, warned, number, priority, policy, policy_id, team,
           assignee, service_type, tier, channel
    FROM clocks_004 ORDER BY started_at;

UPDATE clock_events e SET clock_id = clock_uuid(coalesce(o.ticket_id, o.complaint_id), o.target)
    FROM clocks_004 o WHERE o.id = e.clock_id;
DROP TABLE clocks_004;

CREATE INDEX clocks_number ON clocks (number);
-- What the tick asks, answered from the index alone (as in 001).
CREATE INDEX clocks_breach_due ON clocks (deadline) WHERE state = 'running';
CREATE INDEX clocks_warning_due ON clocks (warn_at) WHERE state = 'running' AND NOT warned;
CREATE INDEX clocks_escalation_due ON clocks (escalate_at)
    WHERE state = 'breached' AND escalate_at IS NOT NULL;
-- The listing by state: running clocks through clocks_breach_due.
CREATE INDEX clocks_state ON clocks (state, deadline) WHERE state <> 'running';
-- What a corrected calendar or a changed policy recomputes.
CREATE INDEX clocks_open_on_calendar ON clocks (policy) WHERE state IN ('running', 'paused');
CREATE INDEX clocks_open_by_policy ON clocks (policy_id) WHERE state IN ('running', 'paused');
-- The report's period.
CREATE INDEX clocks_started ON clocks USING brin (started_at);

-- clock_events: the source event's id as a uuid (16 bytes instead of 37;
-- every event id the bus writes is one; anything else is kept as NULL); no
-- index on the serial id, which only orders a clock's steps (found through
-- clock_events_of_clock); and no foreign key to clocks: a step is written
-- only by sla, in the transaction that writes its clock, and clocks are
-- never deleted, while the key's check and row lock on the clock cost a
-- third of the history's share of arming (docs/performance.md, "SLA").
ALTER TABLE clock_events ALTER COLUMN source_event_id TYPE uuid USING
    (CASE WHEN source_event_id ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
          THEN source_event_id::uuid END);
ALTER TABLE clock_events DROP CONSTRAINT clock_events_pkey;
-- met, fulfilled_late: the working time the round had counted when it was
-- fulfilled (clock.c: sla_clock_used_ms), which the report's per-round
-- figures of the next-update clock read; NULL for every other step.
ALTER TABLE clock_events ADD COLUMN used_ms bigint;
-- A clock's steps through three partial indexes that do not overlap: the
-- signals (clock_events_once, unique), the escalations
-- (clock_events_escalated_once, unique) and the other steps (paused,
-- resumed, changed) here — so an "armed" step, which every clock has, costs
-- one index entry, not two. Readers ask by kind (api.c, clock_store.c).
DROP INDEX clock_events_of_clock;
CREATE INDEX clock_events_steps ON clock_events (clock_id, round)
    WHERE kind IN ('paused', 'resumed', 'changed');

