-- What the compliance report groups by and reads (api.h: GET /v1/sla/report).
--
-- The report groups clocks by team, agent, service type, priority or
-- customer tier; team, assignee and priority are already on each clock, the
-- other facts of the ticket are stored here when the clock is armed (from
-- the TicketFacts of the event that armed it). A constant default makes
-- ADD COLUMN a catalogue change, not a rewrite of a large table; clocks armed
-- before this migration report under the empty value.
ALTER TABLE clocks
    ADD COLUMN service_type text NOT NULL DEFAULT '',
    ADD COLUMN tier         text NOT NULL DEFAULT '',
    ADD COLUMN channel      text NOT NULL DEFAULT '';

-- A report reads the clocks whose round started in its period. One index
-- on the start serves every grouping: the grouping itself is done on the
-- rows read, so no per-key index is worth its space on every clock (the
-- bench counts the bytes each clock costs; docs/performance.md, "SLA").
CREATE INDEX clocks_started ON clocks (started_at);
