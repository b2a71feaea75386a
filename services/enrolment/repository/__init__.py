"""SQL of the enrolment service, by concern. Functions take a connection and never commit."""
