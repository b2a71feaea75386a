"""The name score used against the civil registry and between people under two NIKs (``duplicates``).

Pure functions, no I/O. The parts of a name are read by ``name_parts`` (by the naming rules of ``name_rules``);
``score`` compares the personal names with rapidfuzz and reads the other parts by rule: the same rank written two
ways agrees, a part present on one side only says nothing (forms and registry records keep or drop them), two
different values of the same part (``Wayan``/``Made``: siblings; another father after ``bin``; ``I``/``Ni``) are two
people, and the score is capped at ``CONFLICT_CAP``.

Why ``token_sort_ratio`` and not ``WRatio``: when one string is 1.5 times longer than the other, WRatio switches to
partial matching and scores a short name contained in a longer one at up to 90 (``SITI`` against ``SITI
NURHAYATI``), which would pass a different person in a population where many people share a first name.
``token_sort_ratio`` ignores word order and drops with every missing or extra word. The same words compared without
spaces count too (``NUR HAYATI`` / ``NURHAYATI``). Words are compared by a spelling key (``phonetic``) that folds
the ways Arabic-derived and Javanese names are written (``Syamsul``/``Samsul``, ``Hasanuddin``/``Hasanudin``,
``Sofyan``/``Sopyan``, ``Sutrisno``/``Sutrisna``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from itertools import permutations

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from services.verification.domain import name_rules as rules
from services.verification.domain.name_parts import (
    DEGREES,
    HONORIFICS,
    MUHAMMAD,
    MUHAMMAD_VARIANTS,
    NormalName,
    ParsedName,
    canon,
    fold_spelling,
    normalise,
    parse,
    phonetic,
)

__all__ = [
    "CONFLICT_CAP",
    "DEGREES",
    "HONORIFICS",
    "MUHAMMAD",
    "MUHAMMAD_VARIANTS",
    "TYPO_FLOOR",
    "NormalName",
    "ParsedName",
    "conflicts",
    "fold_spelling",
    "normalise",
    "parse",
    "phonetic",
    "score",
]

CONFLICT_CAP = 60.0  # the highest score of two names whose parts say they are two people
CHEAP_BELOW = 50.0  # a score this low is final: no rule below lifts it (typo-close names score higher)
TYPO_FLOOR = 90.0  # the lowest score of two names that differ by typing errors only (the duplicate threshold)


def score(stated: str, registered: str) -> float:
    """Similarity 0 to 100 of two names, rounded to one decimal (see the module docstring).

    The ``bin``/``binti`` part counts only when both names carry it: registry records often lack it and officials
    sometimes add it, so its absence on one side says nothing, while two different fathers do.
    """
    a, b = parse(stated), parse(registered)
    if a.core == b.core and a == b and a.core:
        return 100.0  # the same parts: most names on a form are the registry's, written the same way
    if not (a.aliases or b.aliases):
        return _pair(a, b)
    return max(_pair(x, y) for x in (a, *a.aliases) for y in (b, *b.aliases))


def conflicts(a: ParsedName, b: ParsedName) -> list[str]:
    """The parts that say two names are two people (both sides carry the part, with different values), and the
    words: two known given names that look alike (``Rahmat``/``Rahman``), or, in names of as many words, a word that
    is no typo of any word of the other (``Hasnawati Said``/``Hasnawati Saleh``)."""
    return _parts_conflict(a, b) + _word_conflicts(a.core, b.core)


def _parts_conflict(a: ParsedName, b: ParsedName) -> list[str]:
    found = []
    for part in ("sex", "birth_order", "caste"):
        left, right = getattr(a, part), getattr(b, part)
        if left is not None and right is not None and left != right:
            found.append(part)
    if (
        a.baptismal
        and b.baptismal
        and (_similarity(a.baptismal, b.baptismal) < 80 or _word_conflicts(a.baptismal, b.baptismal))
    ):
        found.append("baptismal")  # Maria / Martha: two sisters
    if a.daeng and b.daeng and _similarity((a.daeng,), (b.daeng,)) < 80:
        found.append("daeng")
    if a.parent and b.parent and _similarity(a.parent, b.parent) < 80 and not _typo_close(a.parent, b.parent):
        found.append("parent")  # another father; "bin Helu" for "BIN HERU" is a typing error
    return found


_KNOWN = frozenset(fold_spelling(n) for n in rules.GIVEN_NAMES)


def _is_known(word: str) -> bool:
    """A known given name as written (``Ssanti`` is a typo of Susanti, not the name Santi)."""
    return word in _KNOWN or canon(word) in _KNOWN


_LOOKALIKE = 60.0  # two words at least this alike are read as one word written two ways, or as two look-alikes


def _word_conflicts(left: tuple[str, ...], right: tuple[str, ...]) -> list[str]:
    if not left or not right:
        return []
    left, right = _expand_initials(left, right), _expand_initials(right, left)
    a, b = [w for w in left if len(w) > 1], [w for w in right if len(w) > 1]
    keys_a, keys_b = [phonetic(w) for w in a], [phonetic(w) for w in b]
    found = []
    for word, key in zip(a, keys_a, strict=True):
        if not b or key in keys_b:
            continue
        index = max(range(len(b)), key=lambda j: fuzz.ratio(key, keys_b[j]))
        best = keys_b[index]
        known = _is_known(word) and _is_known(b[index]) and best not in keys_a
        if known and fuzz.ratio(key, best) >= _LOOKALIKE and not _one_letter_more(key, best):
            found.append("given_name")
        elif len(a) == len(b) > 1 and not any(_distance(word, o) <= _edits(max(word, o, key=len)) for o in b):
            found.append("word")  # as many words, and this one is not a typo of any: another name
    return found


def _one_letter_more(left: str, right: str) -> bool:
    """``Rahma``/``Rahman``: a letter dropped or added is read as a typing error even between two known names
    (``Rahmat``/``Rahman``, ``Rina``/``Rini``, a letter changed, stay two names)."""
    return abs(len(left) - len(right)) == 1 and Levenshtein.distance(left, right) == 1


def _distance(left: str, right: str) -> int:
    """Typing errors between two words, as written or by their spelling keys, whichever is fewer."""
    return min(Levenshtein.distance(left, right), Levenshtein.distance(phonetic(left), phonetic(right)))


def _edits(word: str) -> int:
    """The typing errors a careful officer forgives in one word: none in a short word, one, two in a long word."""
    return 0 if len(word) <= 3 else 1 if len(word) < 10 else 2


def _typo_close(left: tuple[str, ...], right: tuple[str, ...]) -> bool:
    """As many words, each within the forgiven edits of its own word of the other name (``Bazo``/``Baso``)."""
    left, right = _expand_initials(left, right), _expand_initials(right, left)
    if not (len(left) == len(right) > 0) or len(left) > 6:
        return False
    return any(
        all(_distance(x, y) <= _edits(max(x, y, key=len)) for x, y in zip(left, order, strict=True))
        for order in permutations(right)
    )


def _pair(a: ParsedName, b: ParsedName) -> float:
    if not a.core or not b.core:
        return 0.0
    a, b = _initials_as_baptismal(a, b), _initials_as_baptismal(b, a)
    # The personal names, and, when the optional parts are not on both sides alike, all the words: a misspelt
    # Muhammad or baptismal name ("Muhammmad", "Magddalena") is not read as the optional part it is. A father
    # named after bin on both sides only tells people apart (conflicts): siblings share him.
    views = [(a.core, b.core)]
    if (a.muhammad, bool(a.baptismal), a.titles) != (b.muhammad, bool(b.baptismal), b.titles):
        views.append((_all_words(a), _all_words(b)))
    similarity = max(_similarity(x, y) for x, y in views)
    if similarity < CHEAP_BELOW:
        return similarity  # far apart: the rules below only lower a score or raise a close one
    if _parts_conflict(a, b) or all(_word_conflicts(x, y) for x, y in views):
        return min(similarity, CONFLICT_CAP)
    if _typo_close(a.core, b.core):
        similarity = max(similarity, TYPO_FLOOR)
    return similarity


def _all_words(p: ParsedName) -> tuple[str, ...]:
    return (*sorted(p.titles), *([MUHAMMAD] if p.muhammad else []), *p.baptismal, *p.core)


def _initials_as_baptismal(a: ParsedName, b: ParsedName) -> ParsedName:
    """``Y. Lahang`` against ``YOHANES LAHANG``, ``A. Baso`` against ``ANDI BASO``: leading initials of ``a`` stand
    for the baptismal names or the title ``b`` spells out."""
    count = 0
    while count < len(a.core) - 1 and len(a.core[count]) == 1:
        count += 1
    initials = a.core[:count]
    if a.muhammad_initial and not b.muhammad and b.baptismal and b.baptismal[0][0] == "m":
        return replace(a, muhammad=False, muhammad_initial=False, baptismal=("m",))  # "M. Lahang": Maria Lahang
    if not initials:
        return a
    if not a.baptismal and [w[0] for w in b.baptismal[: len(initials)]] == list(initials):
        return replace(a, core=a.core[count:], baptismal=initials)
    titles = {t[0]: t for t in b.titles - a.titles}
    if count == 1 and initials[0] in titles:
        return replace(a, core=a.core[1:], titles=a.titles | {titles[initials[0]]})
    return a


def _similarity(left: tuple[str, ...], right: tuple[str, ...]) -> float:
    """rapidfuzz on spelling keys, word order ignored, word breaks ignored; an initial stands for its word."""
    if _has_initial(left) or _has_initial(right):
        left, right = _expand_initials(left, right), _expand_initials(right, left)
    (spaced_a, joined_a), (spaced_b, joined_b) = _spelled(left), _spelled(right)
    return round(max(fuzz.token_sort_ratio(spaced_a, spaced_b), fuzz.ratio(joined_a, joined_b)), 1)


@lru_cache(maxsize=65_536)
def _spelled(words: tuple[str, ...]) -> tuple[str, str]:
    keys = [phonetic(w) for w in words]
    return " ".join(keys), "".join(keys)


def _has_initial(words: tuple[str, ...]) -> bool:
    return any(len(w) == 1 for w in words)


def _expand_initials(words: tuple[str, ...], other: tuple[str, ...]) -> tuple[str, ...]:
    """``A. Rahman`` against ``ABDUL RAHMAN``: a one-letter word becomes the other side's word with that initial."""
    if all(len(w) > 1 for w in words):
        return words
    unused = [w for w in other if len(w) > 1 and w not in words]
    out = []
    for word in words:
        match = next((w for w in unused if len(word) == 1 and w[0] == word), None)
        if match is not None:
            unused.remove(match)
            out.append(match)
        else:
            out.append(word)
    return tuple(out)
