-- intake's desk: the customer registry with contacts and merges, the audit of
-- every read of personal fields, the telephony gateway's calls, the web API's
-- idempotency keys, the customer-visible timeline of each ticket (from
-- dispatch's events) and the communication ledger.

-- The registry. A customer is an organisation (company); its people are
-- contacts. customers.name/email/phone stay as the primary contact's copy
-- (what the mail gateway and older events use). A merged duplicate keeps its
-- row, pointing at the customer that absorbed it.
ALTER TABLE customers
    ADD COLUMN region      text,
    ADD COLUMN address     text,
    ADD COLUMN merged_into uuid REFERENCES customers (id),
    ADD COLUMN updated_by  text;

CREATE TABLE contacts (
    id          uuid PRIMARY KEY,
    customer_id uuid NOT NULL REFERENCES customers (id),
    name        text NOT NULL,
    email       text,
    phone       text,            -- E.164, "+8613812345678"
    phone_ext   text,
    title       text,
    language    text NOT NULL DEFAULT 'zh-CN',
    is_primary  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_customer ON contacts (customer_id);
CREATE INDEX contacts_email ON contacts (lower(email)) WHERE email IS NOT NULL;
-- The screen pop's index: caller number → contact.
CREATE INDEX contacts_phone ON contacts (phone) WHERE phone IS NOT NULL;

-- Every customer known so far gets its primary contact. Phones stored by
-- older versions were not normalised: the ones already in E.164 form are
-- kept, others stay NULL here (the customer row keeps the text as given).
INSERT INTO contacts (id, customer_id, name, email, phone, language, is_primary, created_at)
SELECT gen_random_uuid(), id, name, lower(email),
       CASE WHEN phone ~ '^\+[1-9][0-9]{7,14}$' THEN phone END, language, true, created_at
  FROM customers;

CREATE TABLE customer_merges (
    duplicate_id uuid PRIMARY KEY REFERENCES customers (id),
    survivor_id  uuid NOT NULL REFERENCES customers (id),
    actor        text NOT NULL,
    reason       text,
    moved        jsonb NOT NULL,   -- {"contacts": n, "tickets": n, "ledger": n, "calls": n}
    merged_at    timestamptz NOT NULL DEFAULT now()
);

-- Who read which customer's personal fields, when, and why.
CREATE TABLE personal_reads (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    role        text NOT NULL,
    customer_id uuid NOT NULL,
    route       text NOT NULL,
    reason      text NOT NULL,
    client_ip   text
);
CREATE INDEX personal_reads_customer ON personal_reads (customer_id, at);

-- Ticket status as the customer sees it, kept from dispatch's events.
ALTER TABLE tickets
    ADD COLUMN status    text NOT NULL DEFAULT 'received',
    ADD COLUMN status_at timestamptz;
CREATE INDEX tickets_customer_open ON tickets (customer_id)
    WHERE status NOT IN ('closed', 'terminated');

CREATE TABLE ticket_timeline (
    event_id  text PRIMARY KEY,          -- dispatch's event id: each applied once
    number    text NOT NULL,
    at        timestamptz NOT NULL,
    kind      text NOT NULL,             -- accepted, responded, status_changed, resolved, ...
    status    text NOT NULL,
    message   text                       -- only what was addressed to the customer
);
CREATE INDEX ticket_timeline_number ON ticket_timeline (number, at);

-- Request texts of tens of KB are compressed as they are stored: lz4 where
-- the server has it (Debian's has), costing a fraction of the default pglz.
DO $$ BEGIN
    ALTER TABLE tickets ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 not available: request texts stay compressed with pglz';
END $$;

-- POST /v1/requests with an Idempotency-Key: one ticket per key.
-- The key is claimed with the ticket's id before the ticket exists (one
-- statement fewer per request): the reference is checked at commit.
CREATE TABLE idempotency_keys (
    key        text PRIMARY KEY,
    body_sha   text NOT NULL,
    ticket_id  uuid NOT NULL REFERENCES tickets (id) DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The telephony gateway: one row per call id, whatever order its events
-- come in; each kind of event counts once.
CREATE TABLE calls (
    call_id          text PRIMARY KEY,
    direction        text CHECK (direction IN ('inbound', 'outbound')),
    from_number      text,           -- E.164 when it could be normalised, else as given
    to_number        text,
    caller_ext       text,
    customer_id      uuid REFERENCES customers (id),
    agent            text,           -- agent extension
    started_at       timestamptz,
    answered_at      timestamptz,
    ended_at         timestamptz,
    outcome          text CHECK (outcome IN ('answered', 'no_answer', 'busy', 'abandoned')),
    cause            text,
    missed_ticket_id uuid REFERENCES tickets (id),
    ticket_id        uuid REFERENCES tickets (id),  -- opened by an agent from the call
    logged           boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_customer ON calls (customer_id);

CREATE TABLE call_events (
    call_id     text NOT NULL,
    event       text NOT NULL CHECK (event IN ('new', 'answered', 'hangup')),
    at          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (call_id, event)
);

-- The communication ledger: every contact with a customer, in and out.
CREATE TABLE ledger (
    id          bigserial PRIMARY KEY,
    customer_id uuid REFERENCES customers (id),
    ticket_id   uuid REFERENCES tickets (id),
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel     text NOT NULL CHECK (channel IN ('mail', 'call', 'web', 'app', 'visit',
                                                 'partner', 'sms')),
    kind        text NOT NULL,       -- request, reply, call_answered, call_missed, letter kind
    party       text,                -- the address or number on the other side (personal)
    summary     text,
    ref         text NOT NULL,       -- what it records: ticket id, mail id, call id, notification id
    actor       text,
    at          timestamptz NOT NULL,
    UNIQUE (kind, ref)
);
CREATE INDEX ledger_customer ON ledger (customer_id, at DESC, id DESC);
CREATE INDEX ledger_ticket ON ledger (ticket_id, at DESC, id DESC);

-- A customer's reply by mail joins the ledger where the mail gateway stores
-- it, whatever code path wrote the row.
CREATE FUNCTION ledger_mail_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger (customer_id, ticket_id, direction, channel, kind, party, summary, ref, at)
    SELECT t.customer_id, t.id, 'inbound', 'mail', 'reply', NEW.from_addr,
           left(coalesce(NEW.subject, ''), 300), NEW.id::text, NEW.received_at
      FROM tickets t WHERE t.id = NEW.ticket_id
    ON CONFLICT (kind, ref) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER mail_messages_ledger AFTER INSERT ON mail_messages
    FOR EACH ROW WHEN (NEW.outcome = 'reply' AND NEW.ticket_id IS NOT NULL)
    EXECUTE FUNCTION ledger_mail_reply();

-- Settings intake keeps for itself (the ticket access key when none is configured).
CREATE TABLE settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

-- What came in before the ledger existed: every ticket's first request and
-- every reply the mail gateway joined to a ticket.
INSERT INTO ledger (customer_id, ticket_id, direction, channel, kind, party, summary, ref, at)
SELECT customer_id, id, 'inbound',
       CASE channel WHEN 'email' THEN 'mail' WHEN 'onsite' THEN 'visit' WHEN 'phone' THEN 'call'
                    ELSE channel END,
       'request', from_addr, left(subject, 300), id::text, received_at
  FROM tickets;
INSERT INTO ledger (customer_id, ticket_id, direction, channel, kind, party, summary, ref, at)
SELECT t.customer_id, t.id, 'inbound', 'mail', 'reply', m.from_addr,
       left(coalesce(m.subject, ''), 300), m.id::text, m.received_at
  FROM mail_messages m JOIN tickets t ON t.id = m.ticket_id
 WHERE m.outcome = 'reply';
