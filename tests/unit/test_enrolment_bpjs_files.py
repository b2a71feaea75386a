"""The BPJS response file parser: what is applied and what is reported."""

from __future__ import annotations

import uuid

from services.enrolment.adapters.bpjs_files import parse_response
from services.enrolment.domain import Refused, Registered


def test_registered_and_refused_rows_become_answers_and_bad_rows_are_reported_by_row_number() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    parsed = parse_response(
        [
            {"reference": str(a), "status": "Registered", "membership_number": "12345678901"},
            {"reference": str(b), "status": "refused", "refusal_code": "PU_ACTIVE", "refusal_reason": "PU"},
            {"reference": "not-an-id", "status": "registered", "membership_number": "1"},
            {"reference": str(a), "status": "registered", "membership_number": ""},
            {"reference": str(b), "status": "maybe"},
        ]
    )
    assert parsed.answers == [Registered(a, "12345678901"), Refused(b, "PU_ACTIVE", "PU")]
    assert [e.split(":")[0] for e in parsed.errors] == ["row 4", "row 5", "row 6"]
