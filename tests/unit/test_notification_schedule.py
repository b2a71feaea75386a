"""Quiet hours, rate limiting, webhook signatures and receipts: pure arithmetic of the notification service."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.notification.domain import receipts
from services.notification.domain.receipts import Receipt
from services.notification.domain.schedule import WITA, SendWindow, TokenBucket

WINDOW = SendWindow(time(8, 0), time(20, 0), WITA)


def wita(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=WITA)


@pytest.mark.parametrize(
    ("at", "opens"),
    [
        (wita(1, 12), wita(1, 12)),  # open: now
        (wita(1, 8), wita(1, 8)),  # the start is inside
        (wita(1, 20), wita(2, 8)),  # the end is outside: tomorrow morning
        (wita(1, 23, 59), wita(2, 8)),  # late evening -> next morning
        (wita(2, 0, 1), wita(2, 8)),  # after midnight -> this morning
        (wita(2, 7, 59), wita(2, 8)),
        (datetime(2026, 12, 31, 21, 0, tzinfo=WITA), datetime(2027, 1, 1, 8, 0, tzinfo=WITA)),  # across the year
    ],
)
def test_the_next_opening_of_the_window(at: datetime, opens: datetime) -> None:
    assert WINDOW.next_open(at) == opens
    assert WINDOW.is_open(at) == (at == opens)


def test_the_window_is_local_time_whatever_zone_the_clock_gives() -> None:
    # 12:30 UTC is 20:30 WITA: closed, although it is midday in UTC; 00:00 UTC is 08:00 WITA.
    assert not WINDOW.is_open(datetime(2026, 12, 1, 12, 30, tzinfo=UTC))
    assert WINDOW.next_open(datetime(2026, 12, 1, 12, 30, tzinfo=UTC)) == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    jakarta = timezone(timedelta(hours=7))  # WIB: 07:30 WIB is 08:30 WITA, open
    assert WINDOW.is_open(datetime(2026, 12, 1, 7, 30, tzinfo=jakarta))
    # Another zone as configuration: 08:00 in Jayapura (WIT, UTC+9) is 23:00 UTC the day before.
    wit = SendWindow(time(8, 0), time(20, 0), ZoneInfo("Asia/Jayapura"))
    assert wit.next_open(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def test_a_window_across_midnight_and_an_always_open_one() -> None:
    night = SendWindow(time(20, 0), time(6, 0), WITA)
    assert night.is_open(wita(1, 23)) and night.is_open(wita(2, 5, 59)) and not night.is_open(wita(2, 6))
    assert night.next_open(wita(2, 6)) == wita(2, 20)
    always = SendWindow(time(0, 0), time(0, 0), WITA)
    assert always.is_open(wita(1, 3)) and always.next_open(wita(1, 3)) == wita(1, 3)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_token_bucket_lets_a_burst_through_then_paces_to_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=5, clock=clock)
    assert [bucket.reserve() for _ in range(5)] == [0, 0, 0, 0, 0]  # one second's worth at once
    waits = [bucket.reserve() for _ in range(3)]
    assert waits == pytest.approx([0.2, 0.4, 0.6])  # then one every 1/5 s, queued fairly
    clock.now += 10  # a quiet spell refills the bucket, but never beyond the burst
    assert [bucket.reserve() for _ in range(5)] == [0, 0, 0, 0, 0] and bucket.reserve() > 0


def test_an_unlimited_bucket_never_waits() -> None:
    bucket = TokenBucket(rate=0, clock=Clock())
    assert all(bucket.reserve() == 0 for _ in range(1000))


# --- webhooks -------------------------------------------------------------------------------------------------------


def test_signatures_are_checked_against_the_raw_body() -> None:
    body = b'{"id": "gw-1", "status": "DELIVRD"}'
    good = receipts.sign("s3cret", body)
    assert good.startswith("sha256=") and receipts.signature_ok("s3cret", body, good)
    assert not receipts.signature_ok("s3cret", body + b" ", good)  # any change to the body
    assert not receipts.signature_ok("other", body, good)
    assert not receipts.signature_ok("s3cret", body, None) and not receipts.signature_ok("s3cret", body, "")


def test_whatsapp_status_callbacks_and_inbound_stop() -> None:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"changes": [{"value": {
            "statuses": [
                {"id": "wamid.1", "status": "delivered", "timestamp": "1"},
                {"id": "wamid.2", "status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable"}]},
                {"id": "wamid.3", "status": "deleted"},
            ],
            "messages": [{"from": "6281234567890", "type": "text", "text": {"body": "berhenti"}}],
        }}]}],
    }  # fmt: skip
    found, inbound = receipts.parse("whatsapp", body)
    assert found == [
        Receipt("wamid.1", "delivered"),
        Receipt("wamid.2", "failed", "whatsapp reported failed (131026: Message undeliverable)"),
    ]
    assert [(m.sender, receipts.is_stop(m.text)) for m in inbound] == [("6281234567890", True)]


def test_sms_delivery_reports_and_inbound_keywords() -> None:
    found, inbound = receipts.parse(
        "sms_http",
        [
            {"id": "gw-1", "status": "DELIVRD"},
            {"message_id": "gw-2", "status": "UNDELIV", "error": "absent subscriber"},
            {"from": "+6281234567890", "text": "STOP"},
            {"id": "gw-3", "status": "whatever"},
        ],
    )
    assert found == [Receipt("gw-1", "delivered"), Receipt("gw-2", "failed", "gateway reported absent subscriber")]
    assert [m.text for m in inbound] == ["STOP"]
    assert receipts.is_stop(" Stop. ") and receipts.is_stop("BERHENTI kirim") and not receipts.is_stop("stopnya")


@pytest.mark.parametrize("order", list(itertools.permutations(["sent", "delivered", "read"])))
def test_receipts_in_any_order_end_at_the_furthest_status(order: tuple[str, ...]) -> None:
    status = "sent"
    received: set[str] = set()
    for receipt in order:
        received.add(receipt)
        status = receipts.status_after(status, received)
    assert status == "read"


def test_receipts_wait_for_the_send_result_and_failed_never_undoes_a_delivery() -> None:
    assert receipts.status_after("sending", {"delivered"}) == "sending"  # applied once the send result is in
    assert receipts.status_after("pending", {"read"}) == "pending"
    assert receipts.status_after("sent", {"failed"}) == "failed"
    assert receipts.status_after("delivered", {"failed"}) == "delivered"
    assert receipts.status_after("sent", {"failed", "delivered"}) == "delivered"
    assert receipts.status_after("failed", {"delivered"}) == "failed"
