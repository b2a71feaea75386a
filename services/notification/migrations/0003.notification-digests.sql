-- Daily digests per desa for village officials.
-- depends: 0002.notification-routes-receipts

-- A digest is a delivery too (retries, quiet hours, fallback, receipts); its nomination_id is its own id (it is
-- about many nominations) and it emits no NotificationSent/Failed of its own. 'held': a per-person message to an
-- official that travels inside the digest (setting nominator_messages=digest) and is resolved with it.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information', 'daily_digest'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed', 'held'));
ALTER TABLE deliveries ADD COLUMN digest_day date;
CREATE INDEX deliveries_digest ON deliveries (desa_code, digest_day) WHERE digest_day IS NOT NULL;

-- What happened in a desa since its last digest; digest_day is set when a digest takes the item.
CREATE TABLE digest_items (
    event_id      uuid        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('enrolled', 'waitlisted', 'rejected')),
    desa_code     text        NOT NULL,
    nomination_id uuid        NOT NULL,
    detail        jsonb       NOT NULL DEFAULT '{}',
    held_delivery uuid,       -- the per-person message this item stands for, when it is held for the digest
    digest_day    date,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, kind)
);
CREATE INDEX digest_items_open ON digest_items (desa_code) WHERE digest_day IS NULL;
CREATE INDEX digest_items_taken ON digest_items (desa_code, digest_day) WHERE digest_day IS NOT NULL;

-- The officials of a desa: contacts of RT / desa nominators seen for it, with their channel order (latest wins).
CREATE TABLE desa_contacts (
    desa_code  text        NOT NULL,
    contact    text        NOT NULL,  -- the first route's address: the key of this official
    routes     jsonb       NOT NULL,  -- [{"channel", "address"}, ...]
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (desa_code, contact)
);

-- Exactly one digest per (desa, local day), whoever creates it first.
CREATE TABLE digests (
    desa_code   text        NOT NULL,
    day         date        NOT NULL,
    items       int         NOT NULL,
    recipients  int         NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (desa_code, day)
);
