-- complaint: the six steps in full.
--
-- A case now opens from three sources: a complaint ticket (source 'ticket',
-- keyed by the ticket id), a low survey score (source 'survey', keyed by
-- the survey invitation: a follow-up case linked to the ticket) or a
-- handler who took it by phone or visit (source 'direct', keyed by the
-- case's own id).  (source, source_key) is unique, so a replayed or
-- re-delivered event never opens a second case; a ticket may have both a
-- complaint case and a survey follow-up.
--
-- case_number is how people name the case: the ticket's number when it
-- came with a ticket, else CP-YYYY-NNNNNN.  priority is the ticket's until
-- the case is classified, then the one derived from the classification.
ALTER TABLE complaint_cases DROP CONSTRAINT complaint_cases_ticket_id_key;
ALTER TABLE complaint_cases ALTER COLUMN ticket_id DROP NOT NULL;

ALTER TABLE complaint_cases
    ADD COLUMN source            text NOT NULL DEFAULT 'ticket'
                                 CHECK (source IN ('ticket', 'survey', 'direct')),
    ADD COLUMN source_key        text,
    ADD COLUMN case_number       text,
    ADD COLUMN description       text NOT NULL DEFAULT '',
    ADD COLUMN customer_phone    text NOT NULL DEFAULT '',
    ADD COLUMN satisfaction      smallint,
    ADD COLUMN category          text NOT NULL DEFAULT '',
    ADD COLUMN scope             text NOT NULL DEFAULT '',
    ADD COLUMN urgency           text NOT NULL DEFAULT '',
    ADD COLUMN classified_at     timestamptz,
    ADD COLUMN investigating_at  timestamptz,
    ADD COLUMN findings          text NOT NULL DEFAULT '',
    ADD COLUMN owner_department  text NOT NULL DEFAULT '',
    ADD COLUMN owner             text NOT NULL DEFAULT '',
    ADD COLUMN corrective_action text NOT NULL DEFAULT '',
    ADD COLUMN handle_due        timestamptz,
    ADD COLUMN handling_at       timestamptz,
    ADD COLUMN feedback          text NOT NULL DEFAULT '',
    ADD COLUMN feedback_at       timestamptz,
    ADD COLUMN customer_accepted boolean,
    ADD COLUMN answered_at       timestamptz,
    ADD COLUMN answer_channel    text NOT NULL DEFAULT '',
    ADD COLUMN answer_note       text NOT NULL DEFAULT '',
    ADD COLUMN escalation_level  integer NOT NULL DEFAULT 0,
    ADD COLUMN escalated_at      timestamptz,
    ADD COLUMN root_cause        text NOT NULL DEFAULT '',
    ADD COLUMN preventive_action text NOT NULL DEFAULT '',
    ADD COLUMN archived_at       timestamptz;

UPDATE complaint_cases SET source_key = ticket_id::text, case_number = ticket_number;
ALTER TABLE complaint_cases ALTER COLUMN source_key SET NOT NULL,
                            ALTER COLUMN case_number SET NOT NULL;
ALTER TABLE complaint_cases ADD CONSTRAINT complaint_cases_source_once UNIQUE (source, source_key);
CREATE INDEX complaint_cases_case_number ON complaint_cases (case_number, received_at);
CREATE INDEX complaint_cases_received ON complaint_cases (received_at);

-- CP-YYYY-NNNNNN for cases without a ticket.
CREATE SEQUENCE complaint_number_seq;

-- Evidence attached while investigating or handling: stored here, with its
-- SHA-256 so that a copy handed to a customer or a regulator can be checked.
CREATE TABLE case_evidence (
    id           bigserial PRIMARY KEY,
    complaint_id uuid NOT NULL REFERENCES complaint_cases (complaint_id),
    name         text NOT NULL,
    content_type text NOT NULL,
    size         integer NOT NULL,
    sha256       text NOT NULL,
    data         bytea NOT NULL,
    added_by     text NOT NULL,
    added_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_evidence_case ON case_evidence (complaint_id, id);

-- Every escalation once: key says what raised it (an sla clock event, a
-- feedback the customer did not accept), so a replayed event raises nothing.
CREATE TABLE case_escalations (
    complaint_id uuid NOT NULL REFERENCES complaint_cases (complaint_id),
    key          text NOT NULL,
    level        integer NOT NULL,
    reason       text NOT NULL,
    actor        text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (complaint_id, key)
);
