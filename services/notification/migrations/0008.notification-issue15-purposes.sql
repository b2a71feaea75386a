-- Issue 15's purposes (docs/outreach.md), in one list: every purpose of shared.formats.Purpose (the member's card,
-- claim reminders, the objection messages) plus those that emit no event: daily_digest, quota_shortfall (a funding
-- source will not fill), inbound_reply (an answer to a keyword; nomination_id holds the inbound message id) and
-- lead_notice (a lead told to a desa's officials; nomination_id holds the lead id).
-- depends: 0007.notification-retention-indexes

ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information', 'daily_digest', 'enrolment_refused', 'membership_card', 'claim_reminder',
    'objection_received', 'objection_decided', 'quota_shortfall', 'inbound_reply', 'lead_notice'));
