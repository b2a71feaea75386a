"""shared.dci: a message signed by one side verifies on the other; every kind of forgery is refused."""

from __future__ import annotations

import pytest

from shared import dci

SEED, PUBLIC = dci.new_keypair()
SIGNER = dci.Signer.from_seed("registry.example", "k1", SEED, validity_s=300)
VERIFIER = dci.Verifier.from_config({"registry.example|k1|ed25519": PUBLIC}, max_skew_s=10)
NOW = 1_800_000_000.0


def _signed() -> dict:
    header = dci.callback_header("on-search", "registry.example", "payung", 1)
    return SIGNER.envelope(header, {"transaction_id": "t1", "search_response": [{"reference_id": "r1"}]}, now=NOW)


def test_a_signed_message_verifies_and_names_its_sender():
    body = _signed()
    assert body["signature"].startswith('Signature: namespace="spdci", kidId="registry.example|k1|ed25519"')
    assert VERIFIER.verify(body, now=NOW + 1) == "registry.example"


def _tampered_message(body: dict) -> None:
    body["message"]["search_response"][0]["reference_id"] = "r2"


def _tampered_header(body: dict) -> None:
    body["header"]["message_id"] = "another"


def _foreign_sender(body: dict) -> None:
    body["header"]["sender_id"] = "someone.else"


def _unsigned(body: dict) -> None:
    del body["signature"]


def _garbled(body: dict) -> None:
    body["signature"] = body["signature"].replace('created="', 'created="x')


def _unknown_key(body: dict) -> None:
    body["signature"] = body["signature"].replace("|k1|", "|k2|")


def _other_key(body: dict) -> None:
    other, _ = dci.new_keypair()
    forged = dci.Signer.from_seed("registry.example", "k1", other).envelope(body["header"], body["message"], now=NOW)
    body["signature"] = forged["signature"]


@pytest.mark.parametrize(
    "forge", [_tampered_message, _tampered_header, _foreign_sender, _unsigned, _garbled, _unknown_key, _other_key]
)
def test_forgeries_are_refused(forge):
    body = _signed()
    forge(body)
    with pytest.raises(dci.SignatureRefused) as refused:
        VERIFIER.verify(body, now=NOW + 1)
    assert refused.value.code in ("err.signature.missing", "err.signature.invalid")


@pytest.mark.parametrize("at", [NOW - 11, NOW + 300 + 11])
def test_a_signature_outside_its_window_is_refused(at):
    with pytest.raises(dci.SignatureRefused, match="expired or not yet valid"):
        VERIFIER.verify(_signed(), now=at)
    assert VERIFIER.verify(_signed(), now=NOW + 300 + 9) == "registry.example"
