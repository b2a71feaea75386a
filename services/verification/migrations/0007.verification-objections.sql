-- Objections (sanggahan): the review queue of objections with their evidence, and what a re-run needs.
-- depends: 0006.verification-retention-indexes

-- The NominationSubmitted envelope of a rejected nomination: an upheld objection re-runs it (a case decided in the
-- review queue keeps it in reviews.envelope). NULL for decisions made before this migration and for the others.
ALTER TABLE verifications ADD COLUMN submitted jsonb;

CREATE TABLE objections (
    objection_id    uuid PRIMARY KEY,                    -- a replayed ObjectionFiled is the same case
    nomination_id   uuid        NOT NULL REFERENCES verifications (nomination_id),
    person_key      text        NOT NULL,
    ground          text        NOT NULL CHECK (ground IN ('rejected', 'ended')),
    reason_code     text        NOT NULL,
    reason_text     text        NOT NULL DEFAULT '',
    filed_by        text        NOT NULL,
    channel         text        NOT NULL,
    filed_at        timestamptz NOT NULL,
    due_by          date        NOT NULL,
    desa_code       text        NOT NULL,
    filed           jsonb       NOT NULL,               -- the ObjectionFiled payload without the evidence's bytes
    objected        jsonb       NOT NULL,               -- the decision objected to: outcome, reasons, checks, review reasons
    source_event_id uuid        NOT NULL,
    state           text        NOT NULL DEFAULT 'received'
                                CHECK (state IN ('received', 'in_review', 'upheld', 'dismissed')),
    version         integer     NOT NULL DEFAULT 0,      -- optimistic concurrency of the workspace
    taken_by        text,
    taken_at        timestamptz,
    decided_by      text,
    decided_at      timestamptz,
    note            text,
    waived          jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- the reason codes an upheld re-run waived
    result_event_id uuid,                                -- the re-run's IdentityVerified / Rejected / ReviewRequested
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX objections_open_by_due ON objections (due_by, filed_at) WHERE state IN ('received', 'in_review');
CREATE INDEX objections_by_nomination ON objections (nomination_id);

-- The evidence as filed: bytes decoded from the event's base64, their sha256 checked on arrival.
CREATE TABLE objection_evidence (
    objection_id uuid     NOT NULL REFERENCES objections (objection_id) ON DELETE CASCADE,
    position     smallint NOT NULL CHECK (position >= 0),
    filename     text     NOT NULL,
    content_type text     NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    sha256       text     NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    data         bytea    NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    decided      boolean  NOT NULL DEFAULT false,  -- set with the decision: decided evidence goes by retention
    PRIMARY KEY (objection_id, position)
);
CREATE INDEX objection_evidence_decided ON objection_evidence (stored_at) WHERE decided;
