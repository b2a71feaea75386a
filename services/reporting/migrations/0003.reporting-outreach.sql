-- Issue 15 (docs/outreach.md): objections counted by reason, state and age; the eligible population per desa
-- (loaded from a CSV); the forecasts of unfilled seats, one per (funding source, local day).
-- depends: 0002.reporting-refused

-- One row per objection (codes and dates only: the names and phones of the events are not kept).
CREATE TABLE report_objections (
    objection_id  uuid PRIMARY KEY,
    nomination_id uuid        NOT NULL,
    state         text        NOT NULL CHECK (state IN ('received', 'in_review', 'upheld', 'dismissed')),
    ground        text        NOT NULL,
    reason_code   text        NOT NULL,
    desa_code     text        NOT NULL,
    filed_at      timestamptz NOT NULL,
    due_by        date,
    decided_at    timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_objections_open ON report_objections (due_by) WHERE state IN ('received', 'in_review');

-- Working-age residents per desa (`payung report population load FILE`): a load replaces the whole table.
CREATE TABLE report_population (
    desa_code           text PRIMARY KEY,
    eligible_population integer     NOT NULL CHECK (eligible_population >= 0),
    loaded_at           timestamptz NOT NULL DEFAULT now()
);

-- The daily forecast per funding source: the primary key is the once-per-day guard of the forecast job (the
-- QuotaShortfallForecast, when the source will not fill, is written to the outbox in the same transaction).
CREATE TABLE report_forecasts (
    funding_source    text        NOT NULL,
    as_of             date        NOT NULL,
    programme_year    integer     NOT NULL,
    forecast_id       uuid        NOT NULL,
    quota             integer     NOT NULL,
    enrolled          integer     NOT NULL,
    forecast_enrolled integer     NOT NULL,
    seats_left        integer     NOT NULL,
    unspent_rupiah    bigint      NOT NULL,
    published         boolean     NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (funding_source, as_of)
);
