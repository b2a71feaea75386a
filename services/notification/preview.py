"""``python -m services.notification preview-template <name> [--version N] [--channel sms|whatsapp|email]``.

Renders a template with sample data (no database, no settings needed) and prints the text, its length and, for
SMS, the number of parts; for WhatsApp also the approved template's name and body parameters.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from services.notification import digest_rules, domain, messages

SAMPLE: dict[str, Any] = {
    "membership_number": "12345678901",
    "funding_source": "APBD Kab. Kutai Timur",
    "coverage_start": date(2026, 9, 30),
    "coverage_end": date(2026, 9, 30),
    "jkm_benefit": domain.JKM_DEATH_BENEFIT,
    "call_centre": domain.BPJS_CALL_CENTRE,
    "programme_year": 2026,
    "position": 137,
    "full_name": "Siti Aminah binti Abdullah",
    "reference": "1A2B3C4D",
    "village": "Desa Sangatta Selatan",
    "reasons": domain.explain_reasons(["NAME_MISMATCH", "BIRTH_DATE_MISMATCH"]),
    "reason": domain.END_REASONS_ID["contributions_unpaid"],
    "subject": domain.SUBJECTS["enrolment_confirmed"],
    "cause": domain.INVALID_PHONE,
    "refusal_code": "PU_ACTIVE",
    "refusal_reason": "Sudah terdaftar sebagai peserta Penerima Upah",
}
SAMPLE.update(
    {
        key: value
        for key, value in digest_rules.digest_variables(
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
FORMS: dict[str, messages.Form] = {"sms": "short", "whatsapp": "long", "email": "long"}


def preview(name: str, version: int | None = None, channel: str = "sms") -> str:
    version = version or domain.TEMPLATE_VERSIONS[name]
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
    parser.add_argument("name", choices=sorted(domain.TEMPLATE_VERSIONS))
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument("--channel", choices=sorted(FORMS), default="sms")
    args = parser.parse_args(argv)
    print(preview(args.name, args.version, args.channel))
    return 0
