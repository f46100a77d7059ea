-- calendars: the named working-time calendars clocks count on
-- (services/sla/calendar.h for the definition language, calendar_store.h
-- for how the service reads them).
--
-- A clock names its calendar (clocks.policy); the monitor resolves the name
-- here, parses the definition once and keeps it in memory. Every write
-- takes a fresh version from calendar_versions, so "has anything changed?"
-- is one max(version) — exact, unlike timestamps that two writes in the
-- same millisecond could share. There is no DELETE: a clock's calendar
-- never disappears under it.
CREATE SEQUENCE calendar_versions;

CREATE TABLE calendars (
    name        text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,63}$'),
    definition  text        NOT NULL CHECK (octet_length(definition) <= 262144),
    version     bigint      NOT NULL DEFAULT nextval('calendar_versions'),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The built-in calendars (calendar.c: sla_calendar_builtin_text), so that
-- they can be read, and cn-office corrected, through the API like any other.
INSERT INTO calendars (name, definition) VALUES
    ('7x24', E'7x24\n'),
    ('cn-office', concat_ws(E'\n', 'zone Asia/Shanghai', 'hours mon-fri 08:30-12:00 13:00-17:30',
                            'include cn-2025', 'include cn-2026', 'include cn-2027', ''));
