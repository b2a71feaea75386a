"""Leads (workers who asked to be nominated): the fields' rules, named by field and never echoing the value."""

from __future__ import annotations

import pytest

from services.nomination.domain import leads
from services.nomination.errors import InvalidLead
from shared.regions import default_regions

DESA = "64.08.01.2001"


def check(**fields: str) -> leads.ValidLead:
    values = {"desa_code": DESA, "full_name": "Siti Rahmawati", "phone": "0812 3456 7890", "occupation": "nelayan"}
    values |= fields
    return leads.check_lead(**values, regions=default_regions(), programme_regency="64.08")  # type: ignore[arg-type]


def test_a_valid_lead_is_normalised() -> None:
    lead = check(full_name="  Siti   Rahmawati ")
    assert (lead.full_name, lead.phone, lead.desa_code) == ("Siti Rahmawati", "+6281234567890", DESA)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("desa_code", "64.08.01"),  # a kecamatan
        ("desa_code", "64.09.01.2001"),  # another regency's desa: not this programme's
        ("desa_code", "99.99.99.9999"),
        ("desa_code", "64.08.01.2001' OR 1=1"),
        ("full_name", ""),
        ("full_name", "12345"),
        ("full_name", "Siti<script>"),
        ("full_name", "S" * 121),
        ("full_name", "S" * 100_000),
        ("phone", "021 555 1234"),  # a landline: SMS and WhatsApp do not reach it
        ("phone", "+1 202 555 0100"),
        ("phone", "telepon saya"),
        ("phone", "0" * 500),
        ("occupation", "astronot"),
        ("occupation", ""),
    ],
)
def test_invalid_fields_are_refused_by_name_without_the_value(field: str, value: str) -> None:
    with pytest.raises(InvalidLead) as refused:
        check(**{field: value})
    assert refused.value.field == field
    if len(value) > 3:
        assert value not in str(refused.value)


def test_names_take_the_nomination_rules() -> None:
    assert check(full_name="Muh. Yusuf bin Abdullah").full_name == "Muh. Yusuf bin Abdullah"
    assert check(full_name="I Gusti Ayu").full_name == "I Gusti Ayu"
