"""The parts of an Indonesian personal name, read by the naming rules of its tradition (``name_rules``).

Pure functions, no I/O. ``normalise`` turns a name as an official typed it (``Hj. Siti Aminah binti Abdullah,
S.Pd``) into a comparison key: casefolded, without punctuation, honorifics or academic degrees, with one spelling
of Muhammad, abbreviations written out by the rules of the name's tradition (``I Md.`` is Balinese ``I Made``,
``Abd.`` is ``Abdul``) and the pre-1972 spelling folded into the modern one. The key is for comparing, never for
display.

``parse`` reads the parts: the personal name, and beside it the words that say who the person is in the family:
sex (Balinese I / Ni, Buton La / Wa, bin / binti), Balinese birth order and caste, Christian baptismal names, a
Makassar ``Daeng`` name, optional titles (Andi, Raden, Gusti ...), a leading Muhammad, the parent after
``bin``/``binti``, and a second name beside the first (``Budi Santoso alias Tan Kim Liong``). ``phonetic`` is the
spelling key words are compared by (``names.score``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

from services.verification.domain import name_rules as rules

# Titles that precede a name (religious, courtesy, academic), compared without dots. Stripped only from the front:
# in the middle or at the end these words are more likely part of the name.
HONORIFICS = frozenset(
    {
        "h", "hj", "haji", "hajjah", "hajah", "kh",  # pilgrimage titles, Kyai Haji
        "bapak", "bpk", "pak", "ibu", "bu", "sdr", "sdri", "tn", "ny", "nyonya",  # courtesy
        "dr", "drs", "dra", "ir", "prof", "drg", "ns", "bd",  # academic and professional titles before the name
        "ust", "ustad", "ustadz", "ustaz", "ustadzah", "ustazah", "kyai", "kiai", "tgk", "teungku",  # religious
        "pdt", "pendeta", "pastor", "romo", "tuan", "alm", "almh", "almarhum", "almarhumah",
    }
)  # fmt: skip
# Degrees written after a name (S.Pd, S.E., A.Md ...), compared without dots. Stripped only from the end, and only
# when written with dots or after a comma: undotted, short ones like "se" or "st" could be part of a name.
DEGREES = frozenset(
    {
        "sag", "sap", "se", "sh", "shi", "si", "sip", "skm", "skom", "sos", "spd", "spdi", "spt", "ssi", "ssos",
        "st", "sth", "sthi", "stp", "ak", "ama", "amd", "amdkeb", "amdkep", "amk", "amkep", "apt", "ked", "kom",
        "ma", "mag", "mh", "mhum", "mkes", "mm", "mpd", "mpdi", "msi", "mt", "phd", "skep", "ners", "mba",
        "dr", "drs", "ir", "ssit", "sst", "sfarm", "sked", "spdsd", "amapd", "sik", "sgz",
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
# Spelling before the 1972 reform (EYD) -> modern spelling. Order matters: "tj" before any rule touching "j".
OLD_SPELLING = (("oe", "u"), ("dj", "j"), ("tj", "c"), ("nj", "ny"), ("sj", "sy"), ("ch", "kh"))

_NOT_LETTER = re.compile(r"[^a-z]+")
_PARENS = re.compile(r"\(([^)]*)\)")
_ALIAS_SPLIT = re.compile(r"\s*/\s*|\s+(?:" + "|".join(rules.ALIAS_WORDS) + r")\.?\s+")


@dataclass(frozen=True)
class NormalName:
    """A name's comparison key: the person's own name and, apart, the parent's name after ``bin``/``binti``."""

    given: str
    parent: str | None = None

    @property
    def full(self) -> str:
        return f"{self.given} {self.parent}" if self.parent else self.given


@dataclass(frozen=True)
class ParsedName:
    """A name read by its tradition's rules (see the module docstring). Words are canonical (``normalise``)."""

    core: tuple[str, ...]  # the personal name
    sex: str | None = None  # M / F, from I/Ni, La/Wa, bin/binti, Ida Bagus/Ida Ayu ...
    birth_order: int | None = None  # Balinese 1 to 4
    caste: str | None = None  # Balinese brahmana / ksatria / wesia
    baptismal: tuple[str, ...] = ()  # Christian names (or their initials) before the family's own name
    daeng: str | None = None  # Makassar/Bugis Daeng name
    muhammad: bool = False  # a leading Muhammad (in any spelling), which forms often drop
    muhammad_initial: bool = False  # written "M.": Muhammad, unless the other name spells out a baptismal M...
    titles: frozenset[str] = frozenset()  # Andi, Raden, Gusti ...: optional, never telling two people apart
    parent: tuple[str, ...] = ()  # after bin/binti
    aliases: tuple[ParsedName, ...] = ()  # a second name beside the first (a Chinese name, an old name)


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


# Spellings of the same sound in Arabic-derived and regional names, for comparing words (never shown).
_PHONETIC = (
    ("kh", "h"), ("dh", "d"), ("th", "t"), ("sy", "s"), ("sh", "s"), ("ph", "p"), ("q", "k"), ("z", "y"),
    ("f", "p"), ("v", "p"), ("x", "ks"), ("ae", "ai"),
)  # fmt: skip
_VOWELS = frozenset("aeiou")


@lru_cache(maxsize=65_536)
def phonetic(word: str) -> str:
    """A word's spelling key: ``syamsuddin`` and ``samsudin``, ``sofyan`` and ``sopyan``, ``fatimah`` and
    ``fatima``, ``jumiyati`` and ``jumiati``, ``sutrisno`` and ``sutrisna`` get the same key."""
    word = canon(word)
    for old, new in _PHONETIC:
        word = word.replace(old, new)
    out: list[str] = []
    for i, ch in enumerate(word):
        if out and out[-1] == ch:
            continue  # doubled letters: Hasanuddin / Hasanudin, Sitti / Siti
        if ch == "y" and out and out[-1] in "iu" and i + 1 < len(word) and word[i + 1] in _VOWELS:
            continue  # a glide between vowels: Jumiyati / Jumiati
        out.append(ch)
    key = "".join(out)
    if len(key) > 2 and key.endswith(("y", "ie")):
        key = key[:-2] + "i" if key.endswith("ie") else key[:-1] + "i"  # Rudy / Rudi, Ledjie / Ledji
    if len(key) > 3 and key.endswith("h") and key[-2] in _VOWELS:
        key = key[:-1]  # Fatimah / Fatima
    if len(key) >= 5 and key.endswith("o"):
        key = key[:-1] + "a"  # Javanese a read as o: Sutrisna / Sutrisno
    return key


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
    segments = raw.split(",")
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


def _segments(text: str) -> tuple[str, list[str]]:
    """The whole name (all its words) and, when it has them, the names written beside each other in it."""
    inside = _PARENS.findall(text)
    outside = _PARENS.sub(" ", text)
    parts = [p for p in _ALIAS_SPLIT.split(outside) if _undotted(p)] + [p for p in inside if _undotted(p)]
    whole = " ".join(w for w in _ALIAS_SPLIT.sub(" ", outside + " " + " ".join(inside)).split())
    return whole, parts if len(parts) > 1 else []


# ------------------------------------------------------------------------------------------ reading the parts


def _words(tokens: list[_Token]) -> list[str]:
    """Canonical words: Muhammad in one spelling, then old spelling folded; initials keep their one letter."""
    return [MUHAMMAD if t.word in MUHAMMAD_VARIANTS else fold_spelling(t.word) for t in tokens]


def _merge_initials(words: list[str]) -> list[str]:
    """``A. A. Ngurah`` / ``I.B. Putu`` / ``I.G.N. Rai``: the letters of a Balinese two-word abbreviation, rejoined."""
    for size in (3, 2):
        head = words[:size]
        if len(words) > size and all(len(w) == 1 for w in head) and "".join(head) in rules.BALINESE_DOUBLE:
            return ["".join(head), *words[size:]]
    return words


def _is_balinese(words: list[str]) -> bool:
    """Whether the name opens the Balinese way: I / Ni before a birth-order or caste word, or one of those first."""
    if len(words) < 2:
        return False
    first = words[1] if words[0] in rules.BALINESE_SEX else words[0]
    if words[0] in rules.BALINESE_SEX and words[0] != "luh" and first in rules.BALINESE_SEX:
        return True  # Ni Luh
    opens = first in rules.BIRTH_ORDER or first in rules.BALINESE_DOUBLE or first in {"desak", "dewa", "cokorda"}
    opens = opens or (first in rules.BALINESE_ABBREVIATIONS and (words[0] in rules.BALINESE_SEX or len(first) > 2))
    follows = words[words.index(first) + 1] if words.index(first) + 1 < len(words) else ""
    opens = opens or (first in ("ida", "anak", "gusti") and follows in rules.CASTE_PARTS | rules.BIRTH_ORDER.keys())
    return opens


def _balinese(words: list[str]) -> ParsedName:
    expanded: list[str] = []
    for i, word in enumerate(words):
        if i < 4 and word in rules.BALINESE_DOUBLE:
            expanded += rules.BALINESE_DOUBLE[word]
        elif i < 5 and word in rules.BALINESE_ABBREVIATIONS:
            expanded.append(rules.BALINESE_ABBREVIATIONS[word])
        else:
            expanded.append(word)
    sex = order = caste = None
    i = 0
    while i < len(expanded) - 1:
        word = expanded[i]
        title = next((t for t in rules.CASTE_TITLES if tuple(expanded[i : i + len(t)]) == t), None)
        if word in rules.BALINESE_SEX:
            sex = sex or rules.BALINESE_SEX[word]
            i += 1
        elif title is not None:
            caste, title_sex = rules.CASTE_TITLES[title]
            sex = sex or title_sex
            i += len(title)
        elif word in rules.BIRTH_ORDER and order is None:
            order = rules.BIRTH_ORDER[word]
            i += 1
        elif word in rules.CASTE_PARTS and caste is not None:
            i += 1
        else:
            break
    core = tuple(expanded[i:])
    return ParsedName(core=core, sex=sex, birth_order=order, caste=caste)


def _other(words: list[str]) -> ParsedName:
    """Names of the other traditions: leading Muhammad, sex markers, titles and baptismal names, then the name."""
    sex, muhammad, titles = None, False, set()
    baptismal: list[str] = []
    words = [rules.FRONT_ABBREVIATIONS.get(words[0], words[0]), *words[1:]] if len(words) > 1 else words
    i = 0
    while i < len(words) - 1:
        word = words[i]
        marker = next((m for m in rules.SEX_PREFIXES if tuple(words[i : i + len(m)]) == m), None)
        if marker is not None and i + len(marker) < len(words) and not baptismal:
            sex = sex or rules.SEX_PREFIXES[marker]
            i += len(marker)
        elif word == MUHAMMAD and not muhammad:
            muhammad = True
            i += 1
        elif word in rules.OPTIONAL_TITLES:
            titles.add(word)
            i += 1
        elif word in rules.BAPTISMAL or word in rules.BAPTISMAL_ABBREVIATIONS:
            baptismal.append(rules.BAPTISMAL_ABBREVIATIONS.get(word, word))
            i += 1
        elif len(word) == 1 and i + 1 < len(words) and (baptismal or words[i + 1] in rules.BAPTISMAL):
            baptismal.append(word)  # "Y. Lahang", "F. X. Lahang": initials of baptismal names
            i += 1
        else:
            break
    rest = words[i:]  # as written: abbreviations are read by the key (_canon) and the spelling key (phonetic)
    daeng = None
    for j, word in enumerate(rest[:-1]):
        if word in rules.DAENG:
            daeng = rest[j + 1]
            rest = rest[:j] + rest[j + 2 :]
            break
    if not rest and daeng:
        rest, daeng = [daeng], None
    return ParsedName(
        core=tuple(rest),
        sex=sex,
        baptismal=tuple(baptismal),
        daeng=daeng,
        muhammad=muhammad,
        titles=frozenset(titles),
    )


def canon(word: str) -> str:
    """An abbreviation or a regional spelling written out: ``abd`` -> ``abdul``, ``norhayati`` -> ``nurhayati``."""
    return _prefix_spelling(rules.ARABIC_ABBREVIATIONS.get(word, word))


def _prefix_spelling(word: str) -> str:
    for old, new in rules.PREFIX_SPELLINGS:
        if word.startswith(old) and len(word) > len(old) + 2:
            return new + word[len(old) :]
    return word


def _parse_tokens(tokens: list[_Token]) -> ParsedName:
    parent: tuple[str, ...] = ()
    sex = None
    for i, token in enumerate(tokens):
        # "bin"/"binti" + the father's name is kept as its own part, itself without titles ("bin H. Abdul Kadir");
        # a name starting or ending with the word is not a patronym.
        if token.word in FILIAL and 0 < i < len(tokens) - 1:
            after = [t for t in _without_honorifics(tokens[i + 1 :]) if t.word not in FILIAL]
            parent = tuple(_words(after))
            sex = "M" if token.word == "bin" else "F"
            tokens = tokens[:i]
            break
    else:
        tokens = [t for t in tokens if t.word not in FILIAL or len(tokens) == 1]
    folded = _merge_initials([fold_spelling(t.word) for t in tokens])
    # The tradition decides what an abbreviation stands for: "I Md." is Balinese Made, "Md. Yusuf" is Muhammad.
    parsed = _balinese(folded) if _is_balinese(folded) else _other(_words(tokens))
    if parsed.muhammad and any(t.word == "m" for t in tokens[:3]):
        parsed = replace(parsed, muhammad_initial=True)
    if sex is not None and parsed.sex is not None and sex != parsed.sex:
        sex = "?"  # "I ... binti": contradicts itself; never agrees with anyone on sex
    return replace(parsed, parent=parent, sex=sex or parsed.sex)


@lru_cache(maxsize=65_536)  # names repeat a lot (SITI AMINAH ...); parsing is pure, so cache it
def parse(raw: str) -> ParsedName:
    """The parts of a name (see the module docstring); an empty or title-only name has no core."""
    whole, segments = _segments(_ascii_casefold(raw))
    parsed = _parse_tokens(_name_tokens(whole))
    if segments:
        aliases = tuple(p for p in (_parse_tokens(_name_tokens(s)) for s in segments) if p.core)
        parsed = replace(parsed, aliases=aliases)
    return parsed


@lru_cache(maxsize=65_536)
def normalise(raw: str) -> NormalName:
    """The comparison key of a name (see the module docstring); an empty or title-only name gives ``""``."""
    parsed = parse(raw)
    return NormalName(_key_words(parsed), " ".join(canon(w) for w in parsed.parent) or None)


def _key_words(p: ParsedName) -> str:
    """The name's words in canonical form, prefixes written out (``I Md. Sudiarta`` -> ``i made sudiarta``)."""
    prefix: list[str] = []
    if p.birth_order is not None or p.caste is not None:
        prefix += {"M": ["i"], "F": ["ni"]}.get(p.sex or "", [])
        prefix += [p.caste] if p.caste else []
        prefix += [_ORDER_NAME[p.birth_order]] if p.birth_order else []
    else:
        prefix += sorted(p.titles)
        prefix += [MUHAMMAD] if p.muhammad else []
        prefix += list(p.baptismal)
    return " ".join([*prefix, *(canon(w) for w in p.core), *(["daeng", p.daeng] if p.daeng else [])])


_ORDER_NAME = {1: "wayan", 2: "made", 3: "nyoman", 4: "ketut"}
