-- Civil-registry snapshots and verification decisions.
-- depends: 0000.shared-outbox-inbox

-- One row per load of a civil-registry extract (Disdukcapil CSV): where it came from and what it held.
CREATE TABLE registry_snapshots (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_name text        NOT NULL,
    row_count   integer     NOT NULL CHECK (row_count >= 0),
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    loaded_at   timestamptz NOT NULL DEFAULT now()
);

-- The live civil registry: the rows of the latest snapshot only, replaced whole by each load in one transaction.
-- Columns follow the Dukcapil response fields, lower-cased. No foreign key to registry_snapshots: it would cost
-- a look-up per row on every bulk load, and rows are only ever written together with their snapshot row.
CREATE TABLE registry_people (
    nik          text PRIMARY KEY CHECK (nik ~ '^[0-9]{16}$'),
    no_kk        text,
    nama_lgkp    text    NOT NULL,
    tmpt_lhr     text,
    tgl_lhr      date    NOT NULL,
    jenis_klmin  text    NOT NULL CHECK (jenis_klmin IN ('LAKI-LAKI', 'PEREMPUAN')),
    alamat       text,
    no_rt        text,
    no_rw        text,
    kel_code     text    NOT NULL,
    kel_name     text,
    kec_name     text,
    kab_name     text,
    prop_name    text,
    jenis_pkrjn  text,
    status_kawin text,
    status       text    NOT NULL CHECK (status IN ('HIDUP', 'MATI', 'TIDAK_AKTIF')),
    snapshot_id  bigint  NOT NULL
);

-- One decision per nomination, explainable on its own: every check's outcome, the reasons and flags as published.
CREATE TABLE verifications (
    nomination_id        uuid PRIMARY KEY,
    person_key           text        NOT NULL,
    outcome              text        NOT NULL CHECK (outcome IN ('verified', 'rejected')),
    reasons              jsonb       NOT NULL DEFAULT '[]'::jsonb,
    flags                jsonb       NOT NULL DEFAULT '[]'::jsonb,
    checks               jsonb       NOT NULL DEFAULT '[]'::jsonb,
    name_score           double precision CHECK (name_score BETWEEN 0 AND 100),
    registry_snapshot_id bigint REFERENCES registry_snapshots (id),
    decided_at           timestamptz NOT NULL DEFAULT now(),
    event_id             uuid        NOT NULL UNIQUE,  -- the IdentityVerified / IdentityRejected event published
    source_event_id      uuid        NOT NULL          -- the NominationSubmitted event decided on
);

-- One person never enters enrolment twice, whatever the nomination service lets through.
CREATE UNIQUE INDEX verifications_one_verified_person ON verifications (person_key) WHERE outcome = 'verified';
