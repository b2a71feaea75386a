-- The portal's spreadsheet uploads (services/nomination/uploads.py): one job per uploaded file, one row per data
-- row. The sheet's bytes and each row's request are personal data: deleted `upload_retention_days` after the job
-- finished (`python -m services.nomination.letters purge`); the job's header (who, when, counts) stays.
-- depends: 0006.nomination-retention-index

CREATE TABLE upload_jobs (
    id          uuid PRIMARY KEY,
    uploaded_by text        NOT NULL,  -- the principal's name (an account id)
    role        text        NOT NULL,
    area        text,                  -- the uploader's area: the job is visible there only
    kind        text        NOT NULL CHECK (kind IN ('xlsx', 'csv')),
    sha256      text        NOT NULL,
    size_bytes  integer     NOT NULL,
    content     bytea,                 -- NULL once purged
    batch       jsonb       NOT NULL,  -- the nominator and the letter of every row
    total       integer     NOT NULL,
    done        integer     NOT NULL DEFAULT 0,
    accepted    integer     NOT NULL DEFAULT 0,
    refused     integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    purged_at   timestamptz
);
CREATE INDEX upload_jobs_same_file ON upload_jobs (uploaded_by, sha256) WHERE finished_at IS NULL;

CREATE TABLE upload_rows (
    job_id        uuid        NOT NULL REFERENCES upload_jobs (id) ON DELETE CASCADE,
    row_number    integer     NOT NULL,
    request       jsonb,               -- NULL: the row failed its local checks, or is the example
    state         text        NOT NULL CHECK (state IN ('pending', 'done')),
    nomination_id uuid,
    replayed      boolean     NOT NULL DEFAULT false,
    errors        jsonb       NOT NULL DEFAULT '[]',  -- [{column, reason_id, reason_en}]
    attempts      integer     NOT NULL DEFAULT 0,
    lease_until   timestamptz,
    PRIMARY KEY (job_id, row_number)
);
CREATE INDEX upload_rows_pending ON upload_rows (job_id, row_number) WHERE state = 'pending';
