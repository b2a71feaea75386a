-- Issue 17: the reports read small tallies instead of aggregating report_nominations (16 scans of every row per
-- dashboard page). The fold keeps them in the same transaction as the rows (domain/tallies.py: the grain, the
-- rules); report_tallies_rebuild() computes them from the rows: here for an existing deployment's rows, and by
-- bench.reads after its synthetic fill. A NULL key is a value of its own (NULLS NOT DISTINCT), as in GROUP BY.
-- depends: 0003.reporting-outreach

-- Nominations and their notification counts per (desa, occupation, status, funding source, programme year,
-- submission known); kecamatan_code is the desa's.
CREATE TABLE report_status_tally (
    desa_code      text,
    kecamatan_code text,
    occupation     text,
    status         text    NOT NULL,
    funding_source text,
    programme_year integer,
    submitted      boolean NOT NULL,
    n              integer NOT NULL,
    sent           integer NOT NULL,
    failed         integer NOT NULL,
    CONSTRAINT report_status_tally_key UNIQUE NULLS NOT DISTINCT
        (desa_code, kecamatan_code, occupation, status, funding_source, programme_year, submitted)
);

-- Per local (WITA) day and desa: submissions (kind 'submitted'), confirmations ('enrolled') and ends of confirmed
-- seats ('ended', the first day not covered), source and year NULL; per day, funding source and programme year
-- (desa NULL): confirmations ('source_enrolled') and ends ('source_ended') for the forecast.
CREATE TABLE report_day_tally (
    kind           text   NOT NULL CHECK (kind IN ('submitted', 'enrolled', 'ended', 'source_enrolled', 'source_ended')),
    day            date   NOT NULL,
    desa_code      text,
    funding_source text,
    programme_year integer,
    n              integer NOT NULL,
    CONSTRAINT report_day_tally_key UNIQUE NULLS NOT DISTINCT (kind, day, desa_code, funding_source, programme_year)
);

-- Reason codes of rejected nominations (each code of a row's list once, as unnest counts them).
CREATE TABLE report_reason_tally (
    desa_code text,
    reason    text   NOT NULL,
    n         integer NOT NULL,
    CONSTRAINT report_reason_tally_key UNIQUE NULLS NOT DISTINCT (desa_code, reason)
);

CREATE FUNCTION report_tallies_rebuild() RETURNS void LANGUAGE sql AS $$
    LOCK TABLE report_nominations IN SHARE MODE;  -- no fold writes rows while the sums are taken
    DELETE FROM report_status_tally;
    DELETE FROM report_day_tally;
    DELETE FROM report_reason_tally;
    INSERT INTO report_status_tally
        SELECT desa_code, kecamatan_code, occupation, status, funding_source, programme_year,
               submitted_at IS NOT NULL, count(*), sum(notifications_sent), sum(notifications_failed)
        FROM report_nominations GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO report_day_tally
        SELECT 'submitted', (submitted_at AT TIME ZONE 'Asia/Makassar')::date, desa_code, NULL::text, NULL::integer,
               count(*)
        FROM report_nominations WHERE submitted_at IS NOT NULL GROUP BY 2, 3
        UNION ALL
        SELECT 'enrolled', (enrolled_at AT TIME ZONE 'Asia/Makassar')::date, desa_code, NULL::text, NULL::integer,
               count(*)
        FROM report_nominations WHERE enrolled_at IS NOT NULL GROUP BY 2, 3
        UNION ALL
        SELECT 'ended', ended_on, desa_code, NULL::text, NULL::integer, count(*)
        FROM report_nominations WHERE ended_on IS NOT NULL AND enrolled_at IS NOT NULL GROUP BY 2, 3
        UNION ALL
        SELECT 'source_enrolled', (enrolled_at AT TIME ZONE 'Asia/Makassar')::date, NULL, funding_source,
               programme_year, count(*)
        FROM report_nominations WHERE enrolled_at IS NOT NULL GROUP BY 2, 4, 5
        UNION ALL
        SELECT 'source_ended', ended_on, NULL, funding_source, programme_year, count(*)
        FROM report_nominations WHERE ended_on IS NOT NULL AND enrolled_at IS NOT NULL GROUP BY 2, 4, 5;
    INSERT INTO report_reason_tally
        SELECT desa_code, reason, count(*) FROM report_nominations, unnest(rejection_reasons) AS reason
        WHERE status = 'rejected' GROUP BY 1, 2;
$$;

SELECT report_tallies_rebuild();
