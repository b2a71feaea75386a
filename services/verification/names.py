"""Comparable forms of Indonesian personal names and the name score used against the civil registry.

Pure functions, no I/O. ``normalise`` turns a name as an official typed it (``Hj. Siti Aminah binti Abdullah,
S.Pd``) into a comparison key: casefolded, without punctuation, honorifics or academic degrees, with one spelling
of Muhammad and the pre-1972 spelling folded into the modern one. The key is for comparing, never for display.

``score`` compares two names with rapidfuzz's ``token_sort_ratio`` on those keys. Why not ``WRatio``: when one
string is 1.5 times longer than the other, WRatio switches to partial matching and scores a short name contained
in a longer one at up to 90 (``SITI`` against ``SITI NURHAYATI``), which would pass a different person in a
population where many people share a first name. ``token_sort_ratio`` ignores word order (registry records and
nomination forms order names differently) and its score drops with every missing or extra word, so a threshold
means the same thing for every name. The same words compared without spaces count too, because word breaks
vary between records (``NUR HAYATI`` / ``NURHAYATI``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

# Titles that precede a name (religious, courtesy, academic), compared without dots. Stripped only from the front:
# in the middle or at the end these words are more likely part of the name.
HONORIFICS = frozenset(
    {
        "h", "hj", "haji", "hajjah", "hajah", "kh",  # pilgrimage titles, Kyai Haji
        "bapak", "bpk", "pak", "ibu", "bu", "sdr", "sdri", "tn", "ny", "nyonya",  # courtesy
        "dr", "drs", "dra", "ir", "prof",  # academic titles written before the name
    }
)  # fmt: skip
# Degrees written after a name (S.Pd, S.E., A.Md ...), compared without dots. Stripped only from the end, and only
# when written with dots or after a comma: undotted, short ones like "se" or "st" could be part of a name.
DEGREES = frozenset(
    {
        "sag", "sap", "se", "sh", "shi", "si", "sip", "skm", "skom", "sos", "spd", "spdi", "spt", "ssi", "ssos",
        "st", "sth", "sthi", "stp", "ak", "ama", "amd", "amdkeb", "amdkep", "amk", "amkep", "apt", "ked", "kom",
        "ma", "mag", "mh", "mhum", "mkes", "mm", "mpd", "mpdi", "msi", "mt", "phd", "skep", "ners", "mba",
        "dr", "drs", "ir",
    }
)  # fmt: skip
# Degrees that are never a name, stripped from the end even without dots (``BUDI SANTOSO SPD``).
_UNDOTTED_DEGREES = frozenset({"spd", "spdi", "skom", "ssos", "ssi", "skm", "skep", "mpd", "msi", "amd", "sag"})
MUHAMMAD_VARIANTS = frozenset(
    {
        "muhammad", "muhamad", "muhammed", "muhamed", "mohammad", "mohamad", "mohammed", "mohamed", "mohd", "moh",
        "muh", "mhd", "md", "m", "mochammad", "mochamad", "muchammad", "muchamad", "moch", "much",
    }
)  # fmt: skip
MUHAMMAD = "muhammad"
FILIAL = frozenset({"bin", "binti"})
ABBREVIATIONS = {"abd": "abdul"}
# Spelling before the 1972 reform (EYD) -> modern spelling. Order matters: "tj" before any rule touching "j".
OLD_SPELLING = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("nj", "ny"), ("sj", "sy"), ("ch", "kh"))

_NOT_LETTER = re.compile(r"[^a-z]+")


@dataclass(frozen=True)
class NormalName:
    """A name's comparison key: the person's own name and, apart, the parent's name after ``bin``/``binti``."""

    given: str
    parent: str | None = None

    @property
    def full(self) -> str:
        return f"{self.given} {self.parent}" if self.parent else self.given


def fold_spelling(word: str) -> str:
    """Old spelling to modern (``soekarno`` -> ``sukarno``), then ``j`` and ``y`` folded into ``y``.

    The handbook's last rule, old ``j`` -> ``y`` (``Jusuf`` -> ``Yusuf``), cannot be applied to one word alone: a
    modern ``j`` (``Joko``, from ``Djoko``) looks the same. Folding both letters into one makes the key the same
    for ``Djoko``, ``Joko`` and ``Yoko``, and for ``Jusuf`` and ``Yusuf``; ``nj`` -> ``ny`` and ``sj`` -> ``sy`` then
    follow by themselves.
    """
    for old, new in OLD_SPELLING:
        word = word.replace(old, new)
    return word.replace("j", "y")


def _ascii_casefold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _undotted(chunk: str) -> str:
    return _NOT_LETTER.sub("", chunk)


@dataclass(frozen=True)
class _Token:
    word: str  # letters only
    dotted: bool  # written with a dot: an abbreviation or a title


def _tokenise(segment: str) -> list[_Token]:
    tokens: list[_Token] = []
    for chunk in segment.replace("-", " ").split():
        whole = _undotted(chunk)
        if "." in chunk.strip(".") and (whole in DEGREES or whole in HONORIFICS):  # S.Pd, K.H.: one token
            tokens.append(_Token(whole, True))
            continue
        parts = chunk.split(".")
        for i, part in enumerate(parts):
            word = _undotted(part)
            if word:
                tokens.append(_Token(word, dotted=i < len(parts) - 1))
    return tokens


def _is_degree(token: _Token, after_comma: bool) -> bool:
    if token.word in _UNDOTTED_DEGREES:
        return True
    return token.word in DEGREES and (token.dotted or after_comma)


def _name_tokens(raw: str) -> list[_Token]:
    """Tokens of the name proper: degrees after a comma or at the end and leading honorifics removed."""
    segments = _ascii_casefold(raw).split(",")
    tokens = _tokenise(segments[0])
    for segment in segments[1:]:  # "BUDI, S.Pd, M.Si": keep a segment only if it is not all degrees
        extra = _tokenise(segment)
        if not all(_is_degree(t, after_comma=True) for t in extra):
            tokens += extra
    while len(tokens) > 1 and _is_degree(tokens[-1], after_comma=False):
        tokens.pop()
    return _without_honorifics(tokens)


def _without_honorifics(tokens: list[_Token]) -> list[_Token]:
    start = 0
    while start < len(tokens) - 1 and tokens[start].word in HONORIFICS:
        start += 1
    return tokens[start:]


def _canonical(word: str) -> str:
    if word in MUHAMMAD_VARIANTS:
        return MUHAMMAD
    return fold_spelling(ABBREVIATIONS.get(word, word))


@lru_cache(maxsize=65_536)  # names repeat a lot (SITI AMINAH ...); the key is pure, so cache it
def normalise(raw: str) -> NormalName:
    """The comparison key of a name (see the module docstring); an empty or title-only name gives ``""``."""
    tokens = _name_tokens(raw)
    for i, token in enumerate(tokens):
        # "bin"/"binti" + the father's name is kept as its own part, itself without titles ("bin H. Abdul Kadir");
        # a name starting or ending with the word is not a patronym.
        if token.word in FILIAL and 0 < i < len(tokens) - 1:
            parent = [t for t in _without_honorifics(tokens[i + 1 :]) if t.word not in FILIAL]
            return NormalName(_joined(tokens[:i]), _joined(parent) or None)
    return NormalName(_joined([t for t in tokens if t.word not in FILIAL or len(tokens) == 1]))


def _joined(tokens: list[_Token]) -> str:
    return " ".join(_canonical(t.word) for t in tokens)


def score(stated: str, registered: str) -> float:
    """Similarity 0 to 100 of two names, rounded to one decimal.

    The ``bin``/``binti`` part counts only when both names carry it: registry records often lack it and officials
    sometimes add it, so its absence on one side says nothing, while two different fathers do.
    """
    a, b = normalise(stated), normalise(registered)
    if not a.given or not b.given:
        return 0.0
    left, right = (a.full, b.full) if a.parent and b.parent else (a.given, b.given)
    # Word breaks vary (NUR HAYATI / NURHAYATI, ABDUL RAHMAN / ABDULRAHMAN): also compare without spaces.
    joined = fuzz.ratio(left.replace(" ", ""), right.replace(" ", ""))
    return round(max(fuzz.token_sort_ratio(left, right), joined), 1)
