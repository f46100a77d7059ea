-- survey's one reminder (survey.reminded, issue 8) is a kind of its own.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('acceptance', 'update', 'resolution', 'survey_invitation',
                    'survey_reminder'));
