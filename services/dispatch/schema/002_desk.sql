-- dispatch, complete (issue 5): the desk's people and shifts, escalation
-- contacts, the at-risk mark, notes and service reports.
--
-- agents.presence:  available (takes new tickets), busy (at work, takes none
--                   now), away, offline. "online" of 001 is "available".
-- agents.role:      agent, team_lead, supervisor, ops — what an actor may do
--                   to tickets that are not theirs (api.c).
-- teams.lead / manager: told on an SLA breach, the lead first, then the
--                   manager (events.c); teams.time_zone: of its shifts.
-- team_shifts:      when a team works, in its time zone; a team without
--                   rows works around the clock (7×24). A shift whose end is
--                   not after its start runs past midnight into the next day.
-- tickets.at_risk:  '' | warning | breached, from sla.warning / sla.breached.
-- ticket_notes:     internal notes and notes sent to the customer.
-- service_reports:  the report given with each resolve (a ticket reopened and
--                   resolved again has several).

ALTER TABLE agents DROP CONSTRAINT agents_presence_check;
UPDATE agents SET presence = 'available' WHERE presence = 'online';
ALTER TABLE agents ADD CONSTRAINT agents_presence_check
    CHECK (presence IN ('available', 'busy', 'away', 'offline'));
ALTER TABLE agents ADD COLUMN role text NOT NULL DEFAULT 'agent'
    CHECK (role IN ('agent', 'team_lead', 'supervisor', 'ops'));

ALTER TABLE teams ADD COLUMN lead text REFERENCES agents (login);
ALTER TABLE teams ADD COLUMN manager text REFERENCES agents (login);
ALTER TABLE teams ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Shanghai';

CREATE TABLE team_shifts (
    team     text NOT NULL REFERENCES teams (code) ON DELETE CASCADE,
    weekday  integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),  -- ISO: 1 Monday
    starts   time NOT NULL,
    ends     time NOT NULL,
    PRIMARY KEY (team, weekday, starts)
);

ALTER TABLE tickets ADD COLUMN emergency_rule_id text NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN at_risk text NOT NULL DEFAULT ''
    CHECK (at_risk IN ('', 'warning', 'breached'));
ALTER TABLE tickets ADD COLUMN at_risk_target text NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN at_risk_at timestamptz;
CREATE INDEX tickets_team_open ON tickets (team, priority, received_at)
    WHERE status NOT IN ('closed', 'terminated');
CREATE INDEX tickets_owner_open ON tickets (owner)
    WHERE status NOT IN ('closed', 'terminated');
CREATE INDEX tickets_at_risk ON tickets (at_risk_at) WHERE at_risk <> '';

-- warnings seen, by business key, so that a replayed sla.warning is a no-op
CREATE TABLE risk_marks (
    ticket_id  uuid NOT NULL REFERENCES tickets (ticket_id),
    target     text NOT NULL,
    kind       text NOT NULL,
    clock_id   text NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, target, kind, clock_id)
);

CREATE TABLE ticket_notes (
    id           bigserial PRIMARY KEY,
    ticket_id    uuid NOT NULL REFERENCES tickets (ticket_id),
    at           timestamptz NOT NULL DEFAULT now(),
    author       text NOT NULL,
    to_customer  boolean NOT NULL,
    text         text NOT NULL
);
CREATE INDEX ticket_notes_ticket ON ticket_notes (ticket_id, id);

CREATE TABLE service_reports (
    id               bigserial PRIMARY KEY,
    ticket_id        uuid NOT NULL REFERENCES tickets (ticket_id),
    at               timestamptz NOT NULL DEFAULT now(),
    author           text NOT NULL,
    work_done        text NOT NULL,
    parts            jsonb NOT NULL DEFAULT '[]',   -- ["bearing 6312 x2", ...]
    root_cause       text NOT NULL DEFAULT '',
    recommendations  text NOT NULL DEFAULT ''
);
CREATE INDEX service_reports_ticket ON service_reports (ticket_id, id);

-- ---- seed: who leads the desk ----------------------------------------------------------
-- Capacity 0: leads and the supervisor are told and can act, but routing
-- never gives them tickets.
INSERT INTO agents (login, name, region, skills, capacity, presence, role) VALUES
 ('gao.feng', '高峰', 'east',  '{}', 0, 'available', 'team_lead'),
 ('he.xin',   '何欣', 'north', '{}', 0, 'available', 'team_lead'),
 ('ma.jun',   '马俊', 'east',  '{}', 0, 'available', 'supervisor');
UPDATE teams SET lead = CASE region WHEN 'north' THEN 'he.xin' ELSE 'gao.feng' END,
                 manager = 'ma.jun';

-- Is the team working at `at`? No shift rows: always (7×24). A shift is
-- read in the team's time zone; one that ends at or before its start runs
-- past midnight, so at 02:00 on Tuesday the Monday 22:00–06:00 shift holds.
CREATE FUNCTION team_on_shift(p_team text, p_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT p_team IS NULL
        OR NOT EXISTS (SELECT 1 FROM team_shifts WHERE team = p_team)
        OR EXISTS (
            SELECT 1 FROM team_shifts s JOIN teams t ON t.code = s.team,
                 LATERAL (SELECT p_at AT TIME ZONE t.time_zone AS lt) l
            WHERE s.team = p_team AND (
                (s.starts < s.ends AND s.weekday = extract(isodow FROM l.lt)
                 AND l.lt::time >= s.starts AND l.lt::time < s.ends)
             OR (s.starts >= s.ends AND (
                    (s.weekday = extract(isodow FROM l.lt) AND l.lt::time >= s.starts)
                 OR (s.weekday = extract(isodow FROM l.lt - interval '1 day')
                     AND l.lt::time < s.ends)))))
$$;
