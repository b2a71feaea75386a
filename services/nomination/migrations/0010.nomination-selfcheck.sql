-- Self-check ("Cek kepesertaan", docs/outreach.md): every lookup is one row of selfcheck_lookups, which is both the
-- audit of lookups and the fixed windows of the budgets (counted by source, by NIK, and misses of everyone). It
-- holds hashes only: source_hash is an HMAC of the client address or the sender's phone, nik_hash the person key
-- (an HMAC of the NIK); never a NIK, phone number or address in clear. inbound_answers guards one answer per
-- inbound keyword message (beside the inbox). Both tables are pruned by age (shared/retention.py).
-- depends: 0009.nomination-card-details

CREATE TABLE selfcheck_lookups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    channel     text        NOT NULL CHECK (channel IN ('web', 'card', 'sms', 'whatsapp')),
    source_hash text        NOT NULL,
    nik_hash    text,
    outcome     text        NOT NULL CHECK (outcome IN ('hit', 'miss', 'limited')),
    budget      text,
    told        boolean     NOT NULL DEFAULT false,
    nomination_id uuid
);
CREATE INDEX selfcheck_lookups_source ON selfcheck_lookups (source_hash, at);
CREATE INDEX selfcheck_lookups_nik ON selfcheck_lookups (nik_hash, at) WHERE nik_hash IS NOT NULL;
CREATE INDEX selfcheck_lookups_misses ON selfcheck_lookups (at) WHERE outcome = 'miss';
CREATE INDEX selfcheck_lookups_at ON selfcheck_lookups (at);

CREATE TABLE inbound_answers (
    message_id  uuid        PRIMARY KEY,
    source_hash text        NOT NULL,
    kind        text        NOT NULL,
    answered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_answers_answered_at ON inbound_answers (answered_at);
CREATE INDEX inbound_answers_leads ON inbound_answers (source_hash, answered_at) WHERE kind = 'lead_received';

-- the self-check finds every nomination of a NIK by its person key (the unique index covers live ones only)
CREATE INDEX nominations_person_key ON nominations (person_key);
