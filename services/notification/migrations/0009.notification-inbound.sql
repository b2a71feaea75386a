-- Inbound messages (keywords), replies to them and messages about objections and leads (docs/outreach.md).
-- depends: 0008.notification-issue15-purposes

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
