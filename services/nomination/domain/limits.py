"""The self-check's budgets (docs/outreach.md, "Self-check"): fixed windows per source, per NIK and for everyone.

Pure arithmetic over counts the repository reads from the lookup log (``selfcheck_lookups``, in PostgreSQL so that
every replica sees the same windows). A window is fixed: it starts at a multiple of its length since the epoch
(UTC), and a lock-out lasts for the rest of the window in which the budget ran out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Outcome = Literal["hit", "miss", "limited"]
Budget = Literal["source_misses", "source_attempts", "nik_misses", "nik_attempts", "global_misses"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Limits:
    """Budgets per window; ``*_window_s`` the windows' lengths."""

    source_window_s: int = 3600
    source_misses: int = 5  # misses per source (an IP, a phone) per window: then locked for the rest of it
    source_attempts: int = 20  # lookups per source per window, hits included
    nik_window_s: int = 86400
    nik_misses: int = 3  # misses on one NIK per window: then that NIK answers nothing for the rest of it
    nik_attempts: int = 10  # lookups of one NIK per window, hits included
    global_window_s: int = 3600
    global_misses: int = 500  # misses of everyone per window: then every lookup is refused for the rest of it


@dataclass(frozen=True)
class Counts:
    """Lookups already made in the current windows (before the one being decided)."""

    source_attempts: int = 0
    source_misses: int = 0
    nik_attempts: int = 0
    nik_misses: int = 0
    global_misses: int = 0


@dataclass(frozen=True)
class Windows:
    """The starts of the current windows at one instant."""

    source: datetime
    nik: datetime
    global_: datetime


def window_start(now: datetime, length_s: int) -> datetime:
    """The start of the fixed window of ``length_s`` seconds that contains ``now``."""
    elapsed = int((now - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=elapsed - elapsed % length_s)


def windows(now: datetime, limits: Limits) -> Windows:
    return Windows(
        source=window_start(now, limits.source_window_s),
        nik=window_start(now, limits.nik_window_s),
        global_=window_start(now, limits.global_window_s),
    )


def exhausted(counts: Counts, limits: Limits) -> Budget | None:
    """The first budget the next lookup would exceed, or None when it may go ahead."""
    if counts.source_misses >= limits.source_misses:
        return "source_misses"
    if counts.source_attempts >= limits.source_attempts:
        return "source_attempts"
    if counts.nik_misses >= limits.nik_misses:
        return "nik_misses"
    if counts.nik_attempts >= limits.nik_attempts:
        return "nik_attempts"
    if counts.global_misses >= limits.global_misses:
        return "global_misses"
    return None


def window_s(budget: Budget, limits: Limits) -> int:
    """The length of the window ``budget`` is counted in."""
    if budget.startswith("source"):
        return limits.source_window_s
    if budget.startswith("nik"):
        return limits.nik_window_s
    return limits.global_window_s


def lockout(budget: Budget, now: datetime, limits: Limits) -> tuple[datetime, datetime]:
    """(start, end) of a lock-out by ``budget`` at ``now``: the window it ran out in; refused until its end."""
    start = window_start(now, window_s(budget, limits))
    return start, start + timedelta(seconds=window_s(budget, limits))


def enumeration_bound(limits: Limits, sources: int, hours: int) -> int:
    """The most NIK + birth date pairs ``sources`` sources can try in ``hours`` hours: each source is stopped
    after its misses per window, and everyone after the global budget (docs/outreach.md shows the figures)."""
    windows_per_source = hours * 3600 // limits.source_window_s
    global_windows = hours * 3600 // limits.global_window_s
    per_sources = sources * windows_per_source * min(limits.source_misses, limits.source_attempts)
    return min(per_sources, global_windows * limits.global_misses)
