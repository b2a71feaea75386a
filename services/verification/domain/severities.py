"""What each reason code does to a nomination: verification's policy, not part of the shared catalogue.

``reject``: the nomination is rejected; ``flag``: it goes on, marked; ``review``: a Disnaker verifier decides. The
codes themselves, their English descriptions and the Bahasa advice for officials are the shared catalogue
(``shared.reasons``), read by every service that explains a decision; how severe each one is, only verification
decides (a unit test keeps the two lists the same).
"""

from __future__ import annotations

from typing import Final, Literal

Severity = Literal["reject", "flag", "review"]

SEVERITY: Final[dict[str, Severity]] = {
    **dict.fromkeys(
        (
            "NIK_INVALID",
            "PHONE_INVALID",
            "AGE_OUT_OF_RANGE",
            "OCCUPATION_NOT_INFORMAL",
            "LETTER_MISSING",
            "DUPLICATE_PERSON",
            "REGISTRY_NOT_FOUND",
            "DECEASED",
            "INACTIVE",
            "OUTSIDE_PROGRAMME_REGENCY",
            "NAME_MISMATCH",
            "BIRTH_DATE_MISMATCH",
            "WAGE_EARNER",
            "REVIEW_REJECTED",
        ),
        "reject",
    ),
    **dict.fromkeys(("NIK_KECAMATAN_UNKNOWN", "NIK_REGENCY_UNKNOWN", "NIK_BIRTHDATE_MISMATCH", "SEX_MISMATCH"), "flag"),
    "POSSIBLE_DUPLICATE": "review",
}
REJECT_CODES: Final = frozenset(code for code, s in SEVERITY.items() if s == "reject")
FLAG_CODES: Final = frozenset(code for code, s in SEVERITY.items() if s == "flag")
REVIEW_CODES: Final = frozenset(code for code, s in SEVERITY.items() if s == "review")


def severity(code: str) -> Severity:
    """``KeyError`` for a code verification has no rule for (every code it emits has one: tests/unit)."""
    return SEVERITY[code]
