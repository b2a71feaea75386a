-- Issue 15's purposes (shared/formats.py Purpose): the member's card (membership_card, sent as a PDF by WhatsApp or
-- e-mail), claim reminders and the objection messages, all at once so that one migration covers the contract.
-- depends: 0007.notification-retention-indexes

ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information', 'daily_digest', 'enrolment_refused',
    'membership_card', 'claim_reminder', 'objection_received', 'objection_decided'));
