"""The enrolment service's HTTP API: ``rest`` (funding sources, enrolments, ending, budget, waitlist) and ``dci``
(the DCI enrolment check for other agencies)."""
