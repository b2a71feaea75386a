"""The self-check link on a membership card (shared/cards/links.py): genuine tokens read back, anything else not."""

from __future__ import annotations

import uuid

from shared.cards.links import MAX_TOKEN_CHARS, card_token, card_url, read_card_token


def test_a_card_token_names_its_nomination_and_fits_a_qr_code() -> None:
    nomination_id = uuid.uuid4()
    for printer in ("notification", "nomination"):
        token = card_token(printer, nomination_id)
        assert len(token) <= MAX_TOKEN_CHARS
        assert read_card_token(token) == nomination_id
    assert card_url("https://cek.example.go.id/", "t") == "https://cek.example.go.id/cek/kartu/t"


def test_forged_tampered_and_malformed_tokens_read_as_nothing() -> None:
    nomination_id = uuid.uuid4()
    token = card_token("notification", nomination_id)
    raw_id, kid, sig = token.split(".")
    other = card_token("notification", uuid.uuid4()).split(".")[0]
    assert read_card_token(f"{other}.{kid}.{sig}") is None  # another member's id under this signature
    tampered = ("B" if sig[0] == "A" else "A") + sig[1:]  # always another signature (sig[:-2] + "AA" was not, 1 in 256)
    assert read_card_token(f"{raw_id}.{kid}.{tampered}") is None
    # a key that may not print cards (enrolment's) signs nothing a card reader accepts
    enrolment = card_token("enrolment", nomination_id)
    assert read_card_token(enrolment) is None
    assert read_card_token(token, printers=("nomination",)) is None
    for junk in ("", "...", "a.b", "a.b.c", "%%%.%%%.%%%", token + "." + sig, "x" * 10_000, "é.é.é"):
        assert read_card_token(junk) is None
