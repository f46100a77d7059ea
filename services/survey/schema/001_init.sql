-- survey: one decision per closed ticket (an invitation sent, or skipped
-- with its reason), at most one answer per invitation, and the link key
-- generated when operations configure none.
CREATE TABLE invitations (
    invitation_id uuid PRIMARY KEY,
    ticket_id     uuid NOT NULL UNIQUE,       -- one per ticket, however often it closes
    ticket_number text NOT NULL,
    status        text NOT NULL CHECK (status IN ('sent', 'skipped', 'answered')),
    skip_reason   text NOT NULL DEFAULT '',
    email         text NOT NULL DEFAULT '',
    name          text NOT NULL DEFAULT '',
    language      text NOT NULL DEFAULT '',
    team          text NOT NULL DEFAULT '',
    agent         text NOT NULL DEFAULT '',
    service_type  text NOT NULL DEFAULT '',
    link          text NOT NULL DEFAULT '',
    kid           text NOT NULL DEFAULT '',
    closed_at     timestamptz,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz
);
CREATE INDEX invitations_number ON invitations (ticket_number);
CREATE INDEX invitations_created ON invitations (created_at);

CREATE TABLE answers (
    invitation_id uuid PRIMARY KEY REFERENCES invitations (invitation_id),
    satisfaction  smallint NOT NULL CHECK (satisfaction BETWEEN 1 AND 5),
    recommend     smallint CHECK (recommend BETWEEN 0 AND 10),   -- NULL: not given
    comment       text NOT NULL DEFAULT '',
    answered_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE link_keys (
    kid        text PRIMARY KEY,
    key        bytea NOT NULL CHECK (length(key) >= 16),
    created_at timestamptz NOT NULL DEFAULT now()
);
