DROP FUNCTION report_tallies_rebuild();
DROP TABLE report_reason_tally;
DROP TABLE report_day_tally;
DROP TABLE report_status_tally;
