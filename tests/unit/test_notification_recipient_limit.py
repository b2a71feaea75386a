"""recipient_limit: which deliveries of a round pass a recipient's daily limit, and where they go."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.notification.domain import limits
from services.notification.domain.deliveries import Delivery
from services.notification.domain.schedule import WITA

OFFICIAL, PERSON = "+6281298765432", "+6281234567890"


def delivery(address: str | None, role: str = "nominator", purpose: str = "identity_rejected") -> Delivery:
    return Delivery(
        id=uuid.uuid4(), event_id=uuid.uuid4(), nomination_id=uuid.uuid4(), person_key="k", purpose=purpose,
        recipient_role=role, channel="sms_http", address=address, body="-", attempts=1, desa_code="64.08.01.2001",
    )  # fmt: skip


def test_beyond_the_limit_officials_fold_into_the_digest_and_others_wait() -> None:
    round_ = [delivery(OFFICIAL) for _ in range(4)] + [delivery(PERSON, role="beneficiary") for _ in range(2)]
    over = limits.over_limit(round_, {OFFICIAL: 1, PERSON: 1}, limit=2, digests=True)
    assert over.fold == round_[1:4]  # the first one still fits: 1 sent today + 1
    assert over.next_day == round_[5:]


def test_digests_are_never_limited_and_zero_means_no_limit() -> None:
    digests = [delivery(OFFICIAL, purpose="daily_digest") for _ in range(3)]
    assert limits.over_limit(digests, {OFFICIAL: 99}, limit=2, digests=True).fold == []
    many = [delivery(OFFICIAL) for _ in range(50)]
    over = limits.over_limit(many, {OFFICIAL: 99}, limit=0, digests=True)
    assert (over.fold, over.next_day) == ([], [])


def test_without_digests_an_officials_surplus_waits_for_the_next_day() -> None:
    round_ = [delivery(OFFICIAL) for _ in range(3)]
    over = limits.over_limit(round_, {}, limit=1, digests=False)
    assert (over.fold, over.next_day) == ([], round_[1:])


def test_the_day_is_the_local_day() -> None:
    late_utc = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # 01:30 WITA on 2 December
    assert limits.day_start(late_utc, WITA) == datetime(2026, 12, 2, tzinfo=WITA)
    assert limits.next_day(late_utc, WITA) == datetime(2026, 12, 3, tzinfo=WITA)
