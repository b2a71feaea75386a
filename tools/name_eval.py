"""Precision and recall of the name match and the duplicate check on the labelled name pairs (``tools.name_pairs``).

``python -m tools.name_eval [--pairs FILE] [--name-threshold 80] [--duplicate-threshold 90]`` prints, at the
configured thresholds (the verification service's settings: ``PAYUNG_NAME_MATCH_THRESHOLD``,
``PAYUNG_DUPLICATE_NAME_THRESHOLD``), the figures of both checks, the pairs each gets wrong by kind, and a table of
the thresholds' effect. The name match counts the pairs the names alone can tell (``by_name``); the duplicate check
counts every pair, with its birth dates, KK numbers and desa, through ``duplicates.likely_same_person``.
Exit code 0 (the figures are a measurement, not a gate: the unit tests hold the aims).
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from services.verification.domain import duplicates, names
from tools.name_pairs import DEFAULT_FILE, Pair, read

TABLE_THRESHOLDS = (60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 100.0)


@dataclass(frozen=True)
class Figures:
    true_pos: int
    false_pos: int
    false_neg: int
    true_neg: int

    @property
    def precision(self) -> float:
        found = self.true_pos + self.false_pos
        return self.true_pos / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_pos + self.false_neg
        return self.true_pos / real if real else 1.0

    def line(self) -> str:
        return (
            f"precision {self.precision:.4f}  recall {self.recall:.4f}  "
            f"(true +{self.true_pos} / false +{self.false_pos} / missed {self.false_neg} / true -{self.true_neg})"
        )


def configured_thresholds() -> tuple[float, float]:
    """The verification service's thresholds: its settings (environment included), else their defaults."""
    from services.verification.settings import VerificationSettings

    fields = VerificationSettings.model_fields
    try:
        settings = VerificationSettings()
        return settings.name_match_threshold, settings.duplicate_name_threshold
    except ValueError:  # settings that need a database URL and the like: the defaults of the two thresholds
        return float(fields["name_match_threshold"].default), float(fields["duplicate_name_threshold"].default)


def name_match(pair: Pair, threshold: float) -> bool:
    return names.score(pair.name_a, pair.name_b) >= threshold


def duplicate(pair: Pair, threshold: float) -> bool:
    other = duplicates.KnownPerson(uuid.UUID(int=1), "B", pair.name_b, pair.birth_b, pair.kk_b, pair.desa_b)
    found = duplicates.likely_same_person(
        "A", pair.name_a, pair.birth_a, pair.kk_a, pair.desa_a, [other], name_threshold=threshold
    )
    return bool(found)


def measure(pairs: Sequence[Pair], predict: Callable[[Pair], bool]) -> tuple[Figures, Counter[str], Counter[str]]:
    """The figures and, by kind, the pairs missed (same person, not found) and wrongly found (two people)."""
    counts = Counter[str]()
    missed, wrong = Counter[str](), Counter[str]()
    for pair in pairs:
        found = predict(pair)
        key = ("t" if found == bool(pair.same) else "f") + ("p" if found else "n")
        counts[key] += 1
        if pair.same and not found:
            missed[f"{pair.tradition}/{pair.kind}"] += 1
        elif found and not pair.same:
            wrong[f"{pair.tradition}/{pair.kind}"] += 1
    return Figures(counts["tp"], counts["fp"], counts["fn"], counts["tn"]), missed, wrong


def report(pairs: Sequence[Pair], name_threshold: float, duplicate_threshold: float) -> list[str]:
    by_name = [p for p in pairs if p.by_name]
    lines = [
        f"{len(pairs)} pairs ({sum(p.same for p in pairs)} same person, {sum(not p.same for p in pairs)} two people); "
        f"{len(by_name)} the names alone can tell",
        "",
    ]
    for title, subset, predict in (
        (f"name match (score >= {name_threshold:g})", by_name, lambda p: name_match(p, name_threshold)),
        (
            f"duplicate check (score >= {duplicate_threshold:g}, same birth date, same KK or desa)",
            pairs,
            lambda p: duplicate(p, duplicate_threshold),
        ),
    ):
        figures, missed, wrong = measure(subset, predict)
        lines += [title, "  " + figures.line()]
        lines += [f"  missed  {n:4}  {kind}" for kind, n in sorted(missed.items())]
        lines += [f"  merged  {n:4}  {kind}" for kind, n in sorted(wrong.items())]
        lines.append("")
    lines += ["threshold  name P   name R   dup P    dup R", "---------  -------  -------  -------  -------"]
    for threshold in sorted({*TABLE_THRESHOLDS, name_threshold, duplicate_threshold}):
        name_f, _, _ = measure(by_name, functools.partial(name_match, threshold=threshold))
        dup_f, _, _ = measure(pairs, functools.partial(duplicate, threshold=threshold))
        marks = ("n" if threshold == name_threshold else "") + ("d" if threshold == duplicate_threshold else "")
        lines.append(
            f"{threshold:>7g} {marks:<2} {name_f.precision:.4f}   {name_f.recall:.4f}   "
            f"{dup_f.precision:.4f}   {dup_f.recall:.4f}"
        )
    lines.append("(n: the configured name-match threshold, d: the configured duplicate threshold)")
    return lines


def main(
    pairs: Annotated[Path, typer.Option(help="The labelled pairs (tools.name_pairs).")] = DEFAULT_FILE,
    name_threshold: Annotated[float | None, typer.Option(help="Default: the service's setting.")] = None,
    duplicate_threshold: Annotated[float | None, typer.Option(help="Default: the service's setting.")] = None,
) -> None:
    """Print precision and recall of the name match and the duplicate check, and the thresholds' effect."""
    name_default, duplicate_default = configured_thresholds()
    lines = report(
        read(pairs),
        name_default if name_threshold is None else name_threshold,
        duplicate_default if duplicate_threshold is None else duplicate_threshold,
    )
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
