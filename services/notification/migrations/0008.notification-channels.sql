-- Inbound messages (keywords), replies to them and messages about objections and leads (docs/outreach.md).
-- depends: 0007.notification-retention-indexes

-- One row per inbound message id: a replayed webhook publishes nothing twice; counted per sender for the flood
-- limit. No phone number and no text here (the event carries them): phone_key is an HMAC of the number.
CREATE TABLE inbound_messages (
    message_id uuid        PRIMARY KEY,
    channel    text        NOT NULL,
    phone_key  text        NOT NULL,
    published  boolean     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_messages_phone ON inbound_messages (phone_key, created_at);
CREATE INDEX inbound_messages_created_at ON inbound_messages (created_at);

-- Every contract purpose (shared/formats.py, issue 15 included), the digest, and two that emit no event:
-- inbound_reply (an answer to a keyword; nomination_id holds the inbound message id) and lead_notice (a lead told to
-- a desa's officials; nomination_id holds the lead id).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information', 'daily_digest', 'enrolment_refused', 'membership_card', 'claim_reminder',
    'objection_received', 'objection_decided', 'inbound_reply', 'lead_notice'));
