"""Where to look for the people who would fill the empty seats: under-represented worker categories and the desa with
the fewest nominations per eligible population. Pure functions only (docs/outreach.md, "Forecast of unfilled seats").

- A worker category (occupation code) is **under-represented** when its share among the programme's nominations is
  below half its expected share. The expected share is the programme's target share of that code when configured
  (``PAYUNG_OCCUPATION_TARGET_SHARES``); otherwise, with no population by occupation anywhere, an even split across
  the catalogue's codes (1/16 each). ``lainnya`` (any other informal work) is a catch-all and never flagged. No
  nominations at all: nothing is flagged (there is no share to compare).
- **Desa ranking**: with an eligible population loaded for a desa (``payung report population load``), desa are
  ranked by nominations per eligible person, fewest first; desa without a population figure then follow, ranked by
  nominations alone (their ``eligible_population`` is 0, and the dashboard says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CATCH_ALL = "lainnya"
BELOW = 0.5  # flagged below half the expected share


@dataclass(frozen=True)
class DesaRank:
    desa_code: str
    nominations: int
    eligible_population: int  # 0: not known

    @property
    def per_thousand(self) -> float | None:
        """Nominations per 1,000 eligible people, or None without a population figure."""
        return 1000 * self.nominations / self.eligible_population if self.eligible_population else None


def expected_shares(codes: Iterable[str], targets: Mapping[str, float]) -> dict[str, float]:
    """Each code's expected share: the configured target shares (normalised to sum to 1) or an even split."""
    codes = list(codes)
    configured = {c: s for c, s in targets.items() if c in codes and s > 0}
    total = sum(configured.values())
    if configured and total > 0:
        return {c: configured.get(c, 0.0) / total for c in codes}
    return {c: 1 / len(codes) for c in codes} if codes else {}


def under_represented(
    nominations: Mapping[str, int], codes: Iterable[str], targets: Mapping[str, float] | None = None
) -> tuple[str, ...]:
    """Occupation codes whose share among ``nominations`` is below half the expected share, the furthest below
    first (ties by code)."""
    total = sum(nominations.values())
    if total == 0:
        return ()
    expected = expected_shares(codes, targets or {})
    gaps = []
    for code, share in expected.items():
        actual = nominations.get(code, 0) / total
        if code != CATCH_ALL and share > 0 and actual < BELOW * share:
            gaps.append((actual / share, code))
    return tuple(code for _, code in sorted(gaps))


def fewest_nominations(
    desa_codes: Iterable[str], nominations: Mapping[str, int], population: Mapping[str, int], limit: int
) -> list[DesaRank]:
    """The ``limit`` desa with the fewest nominations per eligible population (module docstring)."""
    ranks = [DesaRank(code, nominations.get(code, 0), max(0, population.get(code, 0))) for code in set(desa_codes)]
    known = sorted((r for r in ranks if r.eligible_population), key=lambda r: (r.per_thousand, r.desa_code))
    unknown = sorted((r for r in ranks if not r.eligible_population), key=lambda r: (r.nominations, r.desa_code))
    return (known + unknown)[: max(0, limit)]
