-- Policies, live pauses, recomputes, escalation levels and complaint clocks
-- (issue 6; services/sla/policy.h for the rules, clock.h for the model).
--
-- (003 is the report's migration, on another branch: this one touches only
-- what it adds here, so the two apply in either order of merging.)

-- policies: what a ticket or complaint is owed, by the facts it matches
-- ("*" = any). One policy per match, so that two policies never tie.
-- Every write takes a fresh version, so "has anything changed?" is one
-- max(version) and count(*), as for the calendars.
CREATE SEQUENCE policy_versions;

CREATE TABLE policies (
    id                        text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{1,63}$'),
    priority                  text        NOT NULL DEFAULT '*',
    service_type              text        NOT NULL DEFAULT '*',
    tier                      text        NOT NULL DEFAULT '*',
    channel                   text        NOT NULL DEFAULT '*',
    calendar                  text        NOT NULL,
    unit                      text        NOT NULL CHECK (unit IN ('business', 'real')),
    first_response_min        int         NOT NULL CHECK (first_response_min BETWEEN 1 AND 525600),
    next_update_min           int         NOT NULL CHECK (next_update_min BETWEEN 0 AND 525600),
    resolution_min            int         NOT NULL CHECK (resolution_min BETWEEN 1 AND 525600),
    complaint_acceptance_min  int         NOT NULL
                              CHECK (complaint_acceptance_min BETWEEN 1 AND 525600),
    complaint_handling_min    int         NOT NULL
                              CHECK (complaint_handling_min BETWEEN 1 AND 525600),
    complex                   boolean     NOT NULL DEFAULT false,
    complex_working_days      int         NOT NULL DEFAULT 7
                              CHECK (complex_working_days BETWEEN 1 AND 365),
    description               text        NOT NULL DEFAULT '',
    version                   bigint      NOT NULL DEFAULT nextval('policy_versions'),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (priority, service_type, tier, channel)
);

-- clocks: complaint clocks beside ticket clocks. A complaint's clock has
-- complaint_id and no ticket_id (so the (ticket_id, target) key of ticket
-- clocks is untouched); origin_ticket_id names the ticket a complaint came
-- from, for its events. policy_id is the policy that set the clock's
-- target ('' for clocks armed before policies existed).
ALTER TABLE clocks DROP CONSTRAINT clocks_target_check;
ALTER TABLE clocks ADD CONSTRAINT clocks_target_check
    CHECK (target IN ('first_response', 'resolution', 'complaint_acceptance',
                      'complaint_handling'));
ALTER TABLE clocks ALTER COLUMN ticket_id DROP NOT NULL;
ALTER TABLE clocks
    ADD COLUMN complaint_id      uuid,
    ADD COLUMN origin_ticket_id  uuid,
    ADD COLUMN policy_id         text NOT NULL DEFAULT '',
    -- escalation levels signalled since the breach, and the next one's moment
    ADD COLUMN escalation_level  int  NOT NULL DEFAULT 0,
    ADD COLUMN escalate_at       timestamptz,
    ADD CONSTRAINT clocks_one_subject CHECK ((ticket_id IS NULL) <> (complaint_id IS NULL)),
    ADD CONSTRAINT clocks_complaint_target UNIQUE (complaint_id, target);
-- What the tick asks for escalations, and what a recompute looks for.
CREATE INDEX clocks_escalation_due ON clocks (escalate_at)
    WHERE state = 'breached' AND escalate_at IS NOT NULL;
CREATE INDEX clocks_open_on_calendar ON clocks (policy) WHERE state IN ('running', 'paused');
CREATE INDEX clocks_open_by_policy ON clocks (policy_id) WHERE state IN ('running', 'paused');

-- clock_events: the full history a recompute replays. A round may now be
-- paused and resumed many times and changed more than once; the signals
-- stay once per round (partial unique index), escalations once per level.
ALTER TABLE clock_events DROP CONSTRAINT clock_events_kind_check;
ALTER TABLE clock_events ADD CONSTRAINT clock_events_kind_check
    CHECK (kind IN ('armed', 'warning', 'breached', 'met', 'fulfilled_late', 'stopped',
                    'paused', 'resumed', 'changed', 'escalated'));
ALTER TABLE clock_events DROP CONSTRAINT clock_events_clock_id_round_kind_key;
ALTER TABLE clock_events
    ADD COLUMN level          int  NOT NULL DEFAULT 0,  -- escalated: the level
    ADD COLUMN target_ms      bigint,                   -- armed, changed: target from then on
    ADD COLUMN note           text NOT NULL DEFAULT ''; -- changed: why
CREATE UNIQUE INDEX clock_events_once ON clock_events (clock_id, round, kind)
    WHERE kind IN ('armed', 'warning', 'breached', 'met', 'fulfilled_late', 'stopped');
CREATE UNIQUE INDEX clock_events_escalated_once ON clock_events (clock_id, round, level)
    WHERE kind = 'escalated';
CREATE INDEX clock_events_of_clock ON clock_events (clock_id, round);
