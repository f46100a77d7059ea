-- A kind is whatever has templates (letter.c refuses to render a kind without
-- them), so the table no longer lists the kinds: adding one ("note", issue 5,
-- and those that follow) needs no migration. It only keeps the shape.
ALTER TABLE notifications DROP CONSTRAINT IF EXISTS notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_word
    CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$');
