-- BPJS can refuse a registration (EnrolmentRefused): when, and BPJS's code (no personal data).
-- depends: 0001.reporting-read-model

ALTER TABLE report_nominations ADD COLUMN refused_at timestamptz, ADD COLUMN refusal_code text;
