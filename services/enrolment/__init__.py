"""Enrolment service: gives verified people a seat paid by a funding source, or a place on the waitlist.

It consumes ``identity.verified``, allocates seats under each funding source's headcount quota (in priority order,
exactly, even with several replicas), issues a membership number through the BPJS gateway adapter and publishes
``enrolment.confirmed`` or ``enrolment.waitlisted``. One NIK never holds two seats, whichever source pays.
"""
