-- notify: the complaint's letters — the feedback letter to the customer
-- (complaint.feedback_sent) and the escalation alert to the quality manager
-- (complaint.escalated).
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
    CHECK (kind IN ('acceptance', 'update', 'resolution', 'survey_invitation',
                    'complaint_feedback', 'complaint_escalation'));
