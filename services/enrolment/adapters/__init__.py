"""The enrolment service's outside world: BPJS over HTTP, BPJS's batch files, the local number issuer."""
