-- complaint: one case per complaint ticket, and every move it made.
-- A case is opened from dispatch.ticket.accepted when the ticket's service
-- type is "complaint"; ticket_id is unique so a re-delivered or replayed
-- event never opens a second case.
CREATE TABLE complaint_cases (
    complaint_id   uuid PRIMARY KEY,
    ticket_id      uuid NOT NULL UNIQUE,
    ticket_number  text NOT NULL,
    status         text NOT NULL CHECK (status IN ('received', 'accepted', 'classified',
                       'investigating', 'handling', 'feedback', 'archived', 'resolved')),
    channel        text NOT NULL DEFAULT '',
    tier           text NOT NULL DEFAULT '',
    priority       text NOT NULL DEFAULT '',
    team           text NOT NULL DEFAULT '',
    subject        text NOT NULL DEFAULT '',
    customer_id    text NOT NULL DEFAULT '',
    customer_name  text NOT NULL DEFAULT '',
    customer_email text NOT NULL DEFAULT '',
    language       text NOT NULL DEFAULT '',
    received_at    timestamptz NOT NULL,
    accept_due     timestamptz NOT NULL,
    accepted_at    timestamptz,
    resolved_at    timestamptz,
    handler        text NOT NULL DEFAULT '',
    resolution     text NOT NULL DEFAULT '',
    opened_at      timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaint_cases_status ON complaint_cases (status, accept_due);
CREATE INDEX complaint_cases_number ON complaint_cases (ticket_number);

CREATE TABLE case_history (
    id           bigserial PRIMARY KEY,
    complaint_id uuid NOT NULL REFERENCES complaint_cases (complaint_id),
    from_status  text NOT NULL DEFAULT '',
    to_status    text NOT NULL,
    actor        text NOT NULL,
    note         text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_history_case ON case_history (complaint_id, id);
