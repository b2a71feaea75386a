"""Dates people write are judged on Kalimantan Timur's day (WITA), not the server's UTC one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.nomination.commands import NominationRequest
from shared import formats
from tests.portal_support import request


def test_local_today_is_the_wita_day(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
            return datetime(2026, 12, 3, 16, 30, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(formats, "datetime", Clock)
    assert formats.local_today() == date(2026, 12, 4)  # 00:30 WITA, while UTC is still on the 3rd


def test_a_letter_dated_today_in_kalimantan_timur_is_not_in_the_future(monkeypatch: pytest.MonkeyPatch) -> None:
    """From 16:00 UTC a desa's letter dated today (WITA) was refused as 'in the future' (the replica test, 16:06)."""
    tomorrow_utc = datetime.now(UTC).date() + timedelta(days=1)
    monkeypatch.setattr(formats, "local_today", lambda: tomorrow_utc)
    body = request("6408014501900001", "64.08.01.2001")
    body["supporting_letter"]["date"] = tomorrow_utc.isoformat()
    assert NominationRequest.model_validate(body).supporting_letter is not None
    body["supporting_letter"]["date"] = (tomorrow_utc + timedelta(days=1)).isoformat()
    with pytest.raises(ValueError, match="in the future"):
        NominationRequest.model_validate(body)
