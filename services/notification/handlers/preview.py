"""``python -m services.notification preview-template <name> [--version N] [--channel sms|whatsapp|email]``.

Renders a template with sample data (no database, no settings needed) and prints the text, its length and, for
SMS, the number of parts; for WhatsApp also the approved template's name and body parameters.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from services.notification.domain import addresses, digests, messages, replytexts, texts

SAMPLE: dict[str, Any] = {
    "membership_number": "12345678901",
    "funding_source": "APBD Kab. Kutai Timur",
    "coverage_start": date(2026, 9, 30),
    "coverage_end": date(2026, 9, 30),
    "jkm_benefit": texts.JKM_DEATH_BENEFIT,
    "call_centre": texts.BPJS_CALL_CENTRE,
    "programme_year": 2026,
    "position": 137,
    "full_name": "Siti Aminah binti Abdullah",
    "reference": "1A2B3C4D",
    "village": "Desa Sangatta Selatan",
    "reasons": texts.explain_reasons(["NAME_MISMATCH", "BIRTH_DATE_MISMATCH"]),
    "reason": texts.END_REASONS_ID["contributions_unpaid"],
    "subject": texts.SUBJECTS["enrolment_confirmed"],
    "cause": addresses.INVALID_PHONE,
    "refusal_code": "PU_ACTIVE",
    "refusal_reason": "Sudah terdaftar sebagai peserta Penerima Upah",
    # issue 15: claim reminders (a yearly one) and the quota-shortfall message (to an official of one desa)
    "yearly": True,
    "seats_left": "12.345",
    "unspent": "Rp2.073.960.000",
    "categories": "Nelayan, Juru parkir, Buruh pelabuhan",
    "desa": ["Desa Sangatta Selatan", "Desa Swarga Bara"],
    "as_of": date(2026, 9, 30),
}
SAMPLE.update(
    {
        key: value
        for key, value in digests.digest_variables(
            "Desa Sangatta Selatan",
            date(2026, 9, 30),
            [
                {"kind": "enrolled", "detail": {}},
                {"kind": "enrolled", "detail": {}},
                {"kind": "waitlisted", "detail": {}},
                {
                    "kind": "rejected",
                    "detail": {"reference": "1A2B3C4D", "full_name": "Siti Aminah", "codes": ["NIK_INVALID"]},
                },
                {
                    "kind": "rejected",
                    "detail": {"reference": "5E6F7A8B", "full_name": "Budi", "codes": ["NAME_MISMATCH"]},
                },
            ],
        ).items()
        if key not in ("village",)
    }
)
SAMPLE.update(replytexts.SAMPLE)
FORMS: dict[str, messages.Form] = {"sms": "short", "whatsapp": "long", "email": "long"}


def preview(name: str, version: int | None = None, channel: str = "sms") -> str:
    version = version or texts.TEMPLATE_VERSIONS[name]
    text = messages.render(name, version, SAMPLE, FORMS[channel])
    lines = [text, "", f"template {name} v{version}, channel {channel}: {len(text)} characters"]
    if channel == "sms":
        septets = messages.gsm7_length(text)
        alphabet = f"GSM-7, {septets} septets" if septets is not None else "UCS-2 (not GSM-7)"
        lines.append(f"{alphabet}, {messages.sms_segments(text)} SMS part(s)")
    if channel == "whatsapp":
        lines.append(f"whatsapp template {messages.whatsapp_template_name('payung_', name, version)}")
        for n, value in enumerate(messages.whatsapp_parameters(name, SAMPLE), start=1):
            lines.append(f"  {{{{{n}}}}} = {value}")
    return "\n".join(lines)


def command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services.notification preview-template")
    parser.add_argument("name", choices=sorted(texts.TEMPLATE_VERSIONS))
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument("--channel", choices=sorted(FORMS), default="sms")
    args = parser.parse_args(argv)
    print(preview(args.name, args.version, args.channel))
    return 0
