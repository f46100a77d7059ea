-- A Message-ID is meant to be unique in the world, but nothing stops a
-- second sender from reusing one (by mistake or on purpose). A message is a
-- duplicate only when the same sender sends the same Message-ID again;
-- another sender's mail with that id is its own message.
ALTER TABLE tickets DROP CONSTRAINT tickets_message_id_key;
CREATE INDEX tickets_message_id ON tickets (message_id);
DROP INDEX mail_messages_first;
CREATE UNIQUE INDEX mail_messages_first ON mail_messages (message_id, lower(from_addr))
    WHERE message_id IS NOT NULL AND outcome IN ('ticket', 'reply');
CREATE INDEX mail_messages_message_id ON mail_messages (message_id);
