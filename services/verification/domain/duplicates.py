"""Fuzzy duplicates ("data ganda" under another NIK): pure comparison of a nominee with people already verified.

A person can appear under two NIKs (a double civil-registry record, a typo that happens to be a valid NIK, two
villages proposing the same worker). Such a pair is never rejected automatically: the evidence goes to a Disnaker
verifier. A candidate is someone verified with a different NIK, the same birth date and a name scoring at least the
threshold, plus one corroborating signal: the same KK (family card) number or the same desa. Twins share a birth
date, KK and desa, but not a name; namesakes born the same day rarely share a KK or a desa.

Candidates are found by the birth date first (an index on ``(birth_date, name_key)``): in a regency of 150,000 people
about eight share a birth date, so scoring names costs a handful of comparisons per nominee, never N squared.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.verification.domain import names


@dataclass(frozen=True)
class KnownPerson:
    """A verified person as the duplicate layer sees them."""

    nomination_id: uuid.UUID
    nik: str
    full_name: str
    birth_date: date
    no_kk: str | None
    desa_code: str


@dataclass(frozen=True)
class DuplicateEvidence:
    """Why two records are probably the same person: the other record and each signal."""

    other: KnownPerson
    name_score: float
    same_birth_date: bool
    same_kk: bool
    same_desa: bool

    def as_json(self) -> dict[str, object]:
        return {
            "other_nomination_id": str(self.other.nomination_id),
            "name_score": self.name_score,
            "same_birth_date": self.same_birth_date,
            "same_kk": self.same_kk,
            "same_desa": self.same_desa,
        }


def name_key(full_name: str) -> str:
    """The stored comparison key of a name (``names.normalise``, own name only)."""
    return names.normalise(full_name).given


def likely_same_person(
    nik: str,
    full_name: str,
    birth_date: date,
    no_kk: str | None,
    desa_code: str,
    known: Iterable[KnownPerson],
    name_threshold: float,
) -> list[DuplicateEvidence]:
    """The known people with another NIK who are probably this person, best match first."""
    found = []
    for other in known:
        if other.nik == nik or other.birth_date != birth_date:
            continue
        score = names.score(full_name, other.full_name)
        same_kk = bool(no_kk) and no_kk == other.no_kk
        same_desa = desa_code == other.desa_code
        if score >= name_threshold and (same_kk or same_desa):
            found.append(DuplicateEvidence(other, score, True, same_kk, same_desa))
    return sorted(found, key=lambda e: (-e.name_score, not e.same_kk))
