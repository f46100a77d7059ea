-- intake 003: the mail gateway complete — how each message came in (SMTP,
-- LMTP, IMAP; over TLS or not), what intake knows of each ticket's life and
-- of the letters notify sent (for threading, reopening and matching
-- bounces), the per-sender rate limit, and the IMAP mailboxes it polls.

ALTER TABLE mail_messages
    ADD COLUMN source text NOT NULL DEFAULT 'smtp' CHECK (source IN ('smtp', 'lmtp', 'imap')),
    ADD COLUMN tls boolean NOT NULL DEFAULT false,
    ADD COLUMN imap_mailbox text,
    ADD COLUMN imap_uid bigint,
    -- a bounce matched to the letter it bounces (notify's notification id)
    ADD COLUMN bounce_notification_id text;
-- The rate limit counts a sender's tickets and replies in a sliding window.
CREATE INDEX mail_messages_sender_time ON mail_messages (lower(from_addr), received_at)
    WHERE outcome IN ('ticket', 'reply');
CREATE INDEX mail_messages_quarantine ON mail_messages (received_at)
    WHERE outcome = 'rejected' AND reason = 'quarantine';

-- A reply to a ticket closed too long ago opens a new ticket that follows it up.
ALTER TABLE tickets ADD COLUMN follows_up_ticket_id uuid REFERENCES tickets (id);

-- The life of each ticket as dispatch tells it (dispatch.ticket.closed,
-- .reopened, .terminated, .resolved): intake needs it to decide whether a
-- reply reopens a ticket or opens a new one. event_at orders the events of
-- one ticket: an older event never overwrites a newer state.
CREATE TABLE ticket_states (
    ticket_id   uuid PRIMARY KEY,
    status      text NOT NULL,
    closed_at   timestamptz,             -- when it was closed or terminated, else NULL
    event_at    timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every letter notify sent (notification.sent): a reply quoting its
-- Message-ID joins the letter's ticket; a bounce quoting it is matched to it;
-- our own letter coming back in is a loop.
CREATE TABLE notify_letters (
    message_id      text PRIMARY KEY,    -- without <>
    notification_id text NOT NULL,
    ticket_number   text,
    kind            text,
    recipient       text,
    sent_at         timestamptz NOT NULL DEFAULT now()
);

-- IMAP polling: per mailbox (URL and user) the UIDVALIDITY and the highest
-- UID whose message is committed. Advanced in the transaction that commits
-- the message, so a restart neither loses nor doubles one.
CREATE TABLE imap_mailboxes (
    mailbox      text PRIMARY KEY,
    uidvalidity  bigint NOT NULL,
    last_uid     bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A quarantined message an operator released names the row it became.
ALTER TABLE mail_messages ADD COLUMN released_as uuid REFERENCES mail_messages (id);

-- A message taken from an IMAP mailbox is recorded once per mailbox
-- (key and UIDVALIDITY, "user@host:port/INBOX#1700000000") and UID: a second
-- poller, or the same one after a crash between commit and flagging, finds
-- it taken.
CREATE UNIQUE INDEX mail_messages_imap ON mail_messages (imap_mailbox, imap_uid)
    WHERE imap_uid IS NOT NULL;
