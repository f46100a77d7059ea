-- notify, issue 9: every outbound message, delivered and accounted for.
--
-- 1. A notification travels by a channel: e-mail (as before), SMS or voice through the
--    HTTP gateway.  The dedupe key becomes (source event, channel, recipient): one event
--    yields at most one message per recipient and channel, even when replayed.
-- 2. "bounced": the relay took the mail, and later a non-delivery report came back
--    (intake.mail.rejected, reason bounce) naming its Message-ID.
ALTER TABLE notifications ADD COLUMN channel text NOT NULL DEFAULT 'email'
    CHECK (channel IN ('email', 'sms', 'voice'));
ALTER TABLE notifications ADD COLUMN bounced_at timestamptz;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('queued', 'deferred', 'sent', 'failed', 'suppressed', 'capped',
                      'bounced'));
ALTER TABLE notifications DROP CONSTRAINT notifications_source_event_id_recipient_key;
ALTER TABLE notifications ADD CONSTRAINT notifications_event_channel_recipient_key
    UNIQUE (source_event_id, channel, recipient);
-- a bounce names the Message-ID of what we sent
CREATE INDEX notifications_message_id ON notifications (message_id);

-- The people alerts go to.  login is dispatch's agent login (what escalated_to names);
-- every contact is optional, and a person is alerted by each one they have.
-- lead_of names the team this person leads: who hears of an escalation that names
-- nobody.
CREATE TABLE staff (
    login      text PRIMARY KEY CHECK (login ~ '^[A-Za-z0-9._-]{1,64}$'),
    name       text NOT NULL DEFAULT '',
    email      text NOT NULL DEFAULT '',
    sms        text NOT NULL DEFAULT '' CHECK (sms = '' OR sms ~ '^\+[1-9][0-9]{5,14}$'),
    voice      text NOT NULL DEFAULT '' CHECK (voice = '' OR voice ~ '^\+[1-9][0-9]{5,14}$'),
    language   text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN', 'en')),
    lead_of    text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_lead_of ON staff (lead_of) WHERE lead_of <> '';

-- The duty list: who is woken for an emergency level 1 (a major incident).
CREATE TABLE duty_list (
    login    text PRIMARY KEY REFERENCES staff (login) ON DELETE CASCADE,
    added_at timestamptz NOT NULL DEFAULT now()
);

-- Outbound webhooks: the company's other systems (ERP, chat, paging) subscribe to event
-- types; each event of a chosen type becomes one delivery per subscriber, signed with
-- the subscriber's secret.  The breaker columns pause an endpoint that keeps failing.
CREATE TABLE webhook_subscribers (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL DEFAULT '',
    url                  text NOT NULL,
    secret               text NOT NULL,
    event_types          text[] NOT NULL,
    active               boolean NOT NULL DEFAULT true,
    consecutive_failures integer NOT NULL DEFAULT 0,
    breaker              text NOT NULL DEFAULT 'closed'
                         CHECK (breaker IN ('closed', 'open', 'half_open')),
    paused_until         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,                 -- the delivery id the receiver sees
    subscriber_id    uuid NOT NULL REFERENCES webhook_subscribers (id) ON DELETE CASCADE,
    source_event_id  uuid NOT NULL,
    event_type       text NOT NULL,
    body             text NOT NULL,                    -- the JSON, fixed at enqueue time
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'deferred', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (subscriber_id, source_event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status IN ('queued', 'deferred');
CREATE INDEX webhook_deliveries_subscriber ON webhook_deliveries (subscriber_id, created_at);
