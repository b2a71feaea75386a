DELETE FROM deliveries WHERE purpose IN ('membership_card', 'claim_reminder', 'objection_received',
    'objection_decided', 'quota_shortfall', 'inbound_reply', 'lead_notice');
ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information', 'daily_digest', 'enrolment_refused'));
