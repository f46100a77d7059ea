-- notify's delivery log: one row per (source event, recipient), whatever became of it.
--
-- The bus handler inserts the row in the consumer's transaction (status queued, or
-- suppressed / capped when a rule holds the mail back); the delivery worker moves a
-- queued row on to sent, deferred (retried at next_attempt_at) or failed.  The unique
-- key is what makes a replayed event harmless.  message_id is chosen when the row is
-- queued, so a mail sent twice after a crash carries the same Message-ID both times.
CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    source_event_id uuid NOT NULL,
    source_type     text NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('acceptance', 'update', 'resolution', 'survey_invitation')),
    recipient       text NOT NULL,
    recipient_name  text NOT NULL DEFAULT '',
    ticket_number   text NOT NULL,
    language        text NOT NULL CHECK (language IN ('zh-CN', 'en')),
    automatic       boolean NOT NULL,
    vars            jsonb NOT NULL,
    in_reply_to     text NOT NULL DEFAULT '',
    status          text NOT NULL
                    CHECK (status IN ('queued', 'deferred', 'sent', 'failed',
                                      'suppressed', 'capped')),
    reason          text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    message_id      text NOT NULL,
    smtp_reply      text NOT NULL DEFAULT '',
    path            text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (source_event_id, recipient)
);

-- the delivery worker's queue
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('queued', 'deferred');
-- GET /v1/notifications?ticket=
CREATE INDEX notifications_ticket ON notifications (ticket_number, created_at);
-- the daily cap
CREATE INDEX notifications_recipient_day ON notifications (lower(recipient), created_at);
