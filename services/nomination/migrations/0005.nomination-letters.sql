-- Supporting letters (surat keterangan): personal data, kept in this service's own database behind
-- services/nomination/letters.py (LetterStore), so an S3-compatible store can replace the table. Retention:
-- docs/portal.md ("The supporting letter"); `python -m services.nomination.letters purge` enforces it.
-- depends: 0004.nomination-idempotency-per-caller

CREATE TABLE nomination_letters (
    nomination_id uuid PRIMARY KEY REFERENCES nominations (id),
    media_type    text        NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    size_bytes    integer     NOT NULL,
    sha256        text        NOT NULL,
    content       bytea       NOT NULL,
    uploaded_by   text        NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);
