-- intake: the customer registry, tickets as received, and every message the
-- gateways accepted (tickets, replies, duplicates, rejections) — nothing a
-- gateway answered 250 to is without a row here.

CREATE TABLE customers (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    phone       text,
    company     text,
    industry    text NOT NULL DEFAULT 'other'
                CHECK (industry IN ('oil_gas_supplier', 'chemical_producer', 'energy_investor',
                                    'regulator', 'partner', 'other')),
    tier        text NOT NULL DEFAULT 'sme' CHECK (tier IN ('strategic', 'large', 'sme')),
    language    text NOT NULL DEFAULT 'zh-CN',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email ON customers (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX customers_phone ON customers (phone) WHERE phone IS NOT NULL;

-- Human ticket numbers CS-<year>-<000123>, one counter per year.
CREATE TABLE ticket_numbers (
    year  int PRIMARY KEY,
    last  bigint NOT NULL
);

CREATE TABLE tickets (
    id              uuid PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    channel         text NOT NULL CHECK (channel IN ('email', 'web', 'app', 'onsite', 'partner', 'phone')),
    customer_id     uuid NOT NULL REFERENCES customers (id),
    from_addr       text,
    from_name       text,
    subject         text NOT NULL,
    body            text NOT NULL,
    requested_type  text,
    urgency         text,
    impact          text,
    emergency_flag  int NOT NULL DEFAULT 0,
    language        text NOT NULL,
    message_id      text UNIQUE,          -- the e-mail's Message-ID
    external_id     text UNIQUE,          -- idempotency key of API clients
    attachment_count int NOT NULL DEFAULT 0,
    received_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_received ON tickets (received_at);

-- Every message the mail gateway took responsibility for. raw is kept for
-- audit and re-parsing (PostgreSQL compresses large values itself).
CREATE TABLE mail_messages (
    id           uuid PRIMARY KEY,
    outcome      text NOT NULL CHECK (outcome IN ('ticket', 'reply', 'duplicate', 'rejected')),
    reason       text,                   -- for rejected: auto_reply, bulk, bounce, loop, no_sender, parse_error
    detail       text,
    ticket_id    uuid REFERENCES tickets (id),
    message_id   text,
    envelope_from text NOT NULL,
    from_addr    text,
    subject      text,
    text         text,
    raw          bytea NOT NULL,
    size         int NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mail_messages_first ON mail_messages (message_id)
    WHERE message_id IS NOT NULL AND outcome IN ('ticket', 'reply');
CREATE INDEX mail_messages_ticket ON mail_messages (ticket_id);

CREATE TABLE attachments (
    id            bigserial PRIMARY KEY,
    mail_id       uuid NOT NULL REFERENCES mail_messages (id),
    filename      text,
    content_type  text NOT NULL,
    size          bigint NOT NULL,
    sha256        text NOT NULL,
    inline_part   boolean NOT NULL DEFAULT false
);
