-- survey, complete (issue 8): when (a send time after the close, inside the
-- contact's daytime), whom (one contact per survey, opt-outs, the quiet period),
-- how (e-mail or SMS with a short link, one reminder, phone follow-up tasks),
-- and the answer's two further scores.
--
-- An invitation row is the one decision about a ticket (or a complaint without
-- a ticket): scheduled (waiting for send_at), held (the ticket was reopened
-- before it went out; the next close schedules it again), sent, answered, or
-- skipped with its reason.
ALTER TABLE invitations DROP CONSTRAINT invitations_status_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_status_check
    CHECK (status IN ('scheduled', 'held', 'sent', 'answered', 'skipped'));
ALTER TABLE invitations ALTER COLUMN ticket_id DROP NOT NULL;
ALTER TABLE invitations
    ADD COLUMN complaint_id uuid UNIQUE,      -- one per complaint without a ticket
    ADD COLUMN trigger      text NOT NULL DEFAULT 'ticket_closed'
                            CHECK (trigger IN ('ticket_closed', 'complaint_feedback')),
    ADD COLUMN channel      text NOT NULL DEFAULT '' CHECK (channel IN ('', 'email', 'sms')),
    ADD COLUMN phone        text NOT NULL DEFAULT '',
    ADD COLUMN tier         text NOT NULL DEFAULT '',
    ADD COLUMN customer_id  text NOT NULL DEFAULT '',
    ADD COLUMN contact_key  text NOT NULL DEFAULT '',  -- email:<lower> or phone:<digits>
    ADD COLUMN send_at      timestamptz,               -- scheduled: when it may go out
    ADD COLUMN sent_at      timestamptz,               -- when it went out
    ADD COLUMN reminded_at  timestamptz,               -- the one reminder
    ADD COLUMN short_code   text UNIQUE,               -- SMS: /r/<short_code>
    ADD CONSTRAINT invitations_subject CHECK (ticket_id IS NOT NULL OR complaint_id IS NOT NULL);
UPDATE invitations SET sent_at = created_at, channel = 'email'
    WHERE status IN ('sent', 'answered');
CREATE INDEX invitations_due ON invitations (send_at) WHERE status = 'scheduled';
CREATE INDEX invitations_sent ON invitations (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX invitations_contact ON invitations (contact_key, sent_at);

ALTER TABLE answers
    ADD COLUMN speed           smallint CHECK (speed BETWEEN 1 AND 5),           -- NULL: not given
    ADD COLUMN professionalism smallint CHECK (professionalism BETWEEN 1 AND 5), -- NULL: not given
    ADD COLUMN low_score       text NOT NULL DEFAULT '';  -- '', 'satisfaction' or 'comment'

-- A contact who asked for no more surveys (the invitation's opt-out link).
CREATE TABLE opt_outs (
    contact_key   text PRIMARY KEY,
    invitation_id uuid REFERENCES invitations (invitation_id),
    opted_out_at  timestamptz NOT NULL DEFAULT now()
);

-- Phone follow-up tasks (回访): strategic customers after an invitation, and
-- every low score.  Staff mark them done with an outcome.
CREATE TABLE follow_ups (
    follow_up_id  uuid PRIMARY KEY,
    invitation_id uuid NOT NULL REFERENCES invitations (invitation_id),
    reason        text NOT NULL CHECK (reason IN ('strategic', 'low_score')),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    outcome       text NOT NULL DEFAULT '',
    note          text NOT NULL DEFAULT '',
    done_by       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz,
    UNIQUE (invitation_id, reason)
);
CREATE INDEX follow_ups_open ON follow_ups (created_at) WHERE status = 'open';

-- The first moment at or after ts that lies inside the daytime window
-- [day_start, day_end) hours of time zone tz (day_end may be 24).
CREATE FUNCTION daytime_at(ts timestamptz, tz text, day_start int, day_end int)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN local::time < make_time(day_start, 0, 0)
            THEN (local::date + make_time(day_start, 0, 0)) AT TIME ZONE tz
        WHEN day_end < 24 AND local::time >= make_time(day_end, 0, 0)
            THEN (local::date + 1 + make_time(day_start, 0, 0)) AT TIME ZONE tz
        ELSE ts END
    FROM (SELECT ts AT TIME ZONE tz AS local) AS l
$$;
