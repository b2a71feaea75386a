-- Objections (sanggahan) to a rejection or an ended cover, their evidence files, and leads (workers who asked to be
-- nominated). docs/outreach.md ("Objections", "Leads"). Evidence of decided objections and leads are personal data
-- with their own retention (shared/retention.py: objection_evidence.decided_at, leads.updated_at).
-- depends: 0010.nomination-selfcheck

CREATE TABLE objections (
    id            uuid PRIMARY KEY,
    nomination_id uuid        NOT NULL REFERENCES nominations (id),
    ground        text        NOT NULL CHECK (ground IN ('rejected', 'ended')),
    filed_by      text        NOT NULL CHECK (filed_by IN ('beneficiary', 'nominator')),
    channel       text        NOT NULL CHECK (channel IN ('portal', 'web', 'sms', 'whatsapp')),
    reason_code   text        NOT NULL,
    reason_text   text        NOT NULL DEFAULT '',
    state         text        NOT NULL DEFAULT 'received'
                              CHECK (state IN ('received', 'in_review', 'upheld', 'dismissed')),
    note          text        NOT NULL DEFAULT '',
    filed_by_principal text,
    filed_at      timestamptz NOT NULL DEFAULT now(),
    due_by        date        NOT NULL,
    reviewed_at   timestamptz,
    decided_at    timestamptz
);
CREATE INDEX objections_nomination ON objections (nomination_id, filed_at);
-- One open objection per nomination, whatever races the rules' check.
CREATE UNIQUE INDEX objections_one_open ON objections (nomination_id) WHERE state IN ('received', 'in_review');

CREATE TABLE objection_evidence (
    objection_id uuid        NOT NULL REFERENCES objections (id),
    position     smallint    NOT NULL CHECK (position BETWEEN 0 AND 1),
    filename     text        NOT NULL,
    content_type text        NOT NULL,
    sha256       text        NOT NULL,
    size_bytes   integer     NOT NULL,
    content      bytea       NOT NULL,
    decided_at   timestamptz,
    PRIMARY KEY (objection_id, position)
);
CREATE INDEX objection_evidence_decided ON objection_evidence (decided_at) WHERE decided_at IS NOT NULL;

CREATE TABLE leads (
    id           uuid PRIMARY KEY,
    person_key   text        NOT NULL,
    desa_code    text        NOT NULL,
    full_name    text        NOT NULL,
    phone        text        NOT NULL,
    occupation   text        NOT NULL,
    channel      text        NOT NULL CHECK (channel IN ('web', 'sms', 'whatsapp')),
    state        text        NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'contacted', 'nominated')),
    marked_by    text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leads_desa ON leads (desa_code, received_at DESC);
CREATE INDEX leads_phone ON leads (phone, desa_code, received_at DESC);
CREATE INDEX leads_updated ON leads (updated_at);
