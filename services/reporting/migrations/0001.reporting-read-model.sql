-- The read model: one row per nomination, folded from the topics (codes, dates and counts; no personal data).
-- depends: 0000.shared-outbox-inbox

CREATE TABLE report_nominations (
    nomination_id        uuid PRIMARY KEY,
    status               text        NOT NULL DEFAULT 'submitted',
    desa_code            text,
    kecamatan_code       text,
    occupation           text,
    nominator_type       text,
    submitted_at         timestamptz,
    review_requested_at  timestamptz,
    verified_at          timestamptz,
    rejected_at          timestamptz,
    waitlisted_at        timestamptz,
    enrolled_at          timestamptz,
    ended_on             date,
    end_reason           text,
    funding_source       text,
    programme_year       integer,
    rejection_reasons    text[]      NOT NULL DEFAULT '{}',
    notifications_sent   integer     NOT NULL DEFAULT 0,
    notifications_failed integer     NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The dashboard groups by these; at 150,000 rows a group-by over an index-only subset stays in milliseconds.
CREATE INDEX report_nominations_status ON report_nominations (status);
CREATE INDEX report_nominations_kecamatan ON report_nominations (kecamatan_code, status);
