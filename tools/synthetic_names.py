"""Name data and name faults for the synthetic generator (see ``tools.synthetic``).

Names are kept in upper case, as the civil registry (SIAK) stores them. The groups are those of East Kalimantan:
Javanese, Banjar, Bugis and Kutai families (mostly Muslim names, many with one word only) and Dayak families
(Kenyah, Bahau, Wehea: mostly Christian given names with a Dayak name). Place names here are birthplaces of
migrants only; regions of the province always come from the region list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from rapidfuzz import fuzz


def words(text: str) -> tuple[str, ...]:
    """Split on spaces; ``_`` joins words that belong together (``ABDUL_RAHMAN``)."""
    return tuple(word.replace("_", " ") for word in text.split())


@dataclass(frozen=True)
class Group:
    """Naming habits of one group of families."""

    share: float  # of families in the programme area
    male: tuple[str, ...]
    female: tuple[str, ...]
    male_second: tuple[str, ...]  # second words (father's or family names, Javanese epithets)
    female_second: tuple[str, ...]
    single: float  # share of one-word names
    islamic: bool = True  # Muhammad prefixes, bin/binti
    noble: dict[str, tuple[str, ...]] = field(default_factory=dict)  # titles by sex: ANDI, AJI, AWANG, DAYANG
    origins: tuple[str, ...] = ()  # birthplaces outside the province


# "_" joins a two-word given name
GROUPS: dict[str, Group] = {
    "jawa": Group(
        0.30,
        words(
            "SUTRISNO SLAMET SUPARMAN WAGIMAN SUGENG PAIJO SUKIRNO BAMBANG BUDI AGUS JOKO TRI EKO DWI HERU WAHYU "
            "SUYANTO SUMARNO PARJO TUKIMAN KASIMAN SUWARNO MULYONO SUPRIYADI SUGIYONO PRIYANTO GUNAWAN SETYO "
            "CAHYONO JUMADI SOEPARMAN DJOKO SOEKARDI TJIPTO NGADIMAN SAMINO KUSNADI TEGUH YUDI RUDI"
        ),
        words(
            "SRI SITI ENDANG TUKIYEM SUMARNI SUPARTI WARSINI SULASTRI PARTINI SUMIATI KATMINI SUPRIHATIN YULIANI "
            "WIDYA RATNA DEWI JUMIATI SUCI TUMINAH SUKINAH PONIYEM MURNI RIYANTI CICIH SOEMIATI"
        ),
        words(
            "SANTOSO WIBOWO PRASETYO SETIAWAN NUGROHO SUSANTO SAPUTRA WIJAYA PURNOMO HARYANTO KURNIAWAN UTOMO RIYADI"
        ),
        words("WAHYUNI LESTARI RAHAYU HANDAYANI WULANDARI NINGSIH SUSANTI PURWANTI ASTUTI"),
        0.45,
        origins=words("KEDIRI MALANG BLITAR NGAWI JEMBER SURABAYA BANYUWANGI PONOROGO SRAGEN"),
    ),
    "banjar": Group(
        0.20,
        words(
            "ARSYAD JUMBERI MASRANI ANANG RUSDI IRAWAN MAHFUZ SYAHRANI ABDUL_RAHMAN ABDUL_GANI ABDUL_KADIR "
            "MASRIADI JUHRAN ARBAIN SARKANI MUKHLIS RIDUAN HAIRANI NORDIN SALMAN FAHRIANSYAH ASMUNI ZAINUDIN "
            "HASBULLAH"
        ),
        words(
            "RUSMINI FAUZIAH NORHAYATI MASLIANI SALASIAH ARBAYAH NORJANAH NORHALIDA JUBAIDAH MASITAH RAHMAH "
            "HALIMAH NORLIANA ASMAH SITI_NORBAYAH MARIAM RUSDIANA HAMIDAH NORSIDAH JAMILAH"
        ),
        words("ANSYARI RAHMAN HIDAYAT NOOR FAHMI RIDHA ARIFIN MAULANA HAKIM"),
        words("HASANAH FITRIANI NORMILA ARIANI WAHDAH"),
        0.55,
        noble={"M": ("GUSTI",), "F": ("GUSTI",)},
        origins=words("BANJARMASIN AMUNTAI BARABAI KANDANGAN MARTAPURA RANTAU TANJUNG"),
    ),
    "bugis": Group(
        0.25,
        words(
            "BASO HASANUDDIN SYAMSUDDIN HAERUDDIN AMIRUDDIN JUMARDI SUDIRMAN ABD._RAHMAN SAHARUDDIN MUSTAFA "
            "ARIFUDDIN BAHRUN JAMALUDDIN KAHARUDDIN RAHMAN SYAMSUL ILHAM MUSLIMIN AMBO BACO HAMZAH NURDIN SAMSU "
            "RUSLAN IDRIS"
        ),
        words(
            "SITTI NURHAYATI HASNAWATI RAHMAWATI MARLINA HASMAWATI NURMIATI SUARNI HASNIAH MUSDALIFAH NURJANNAH "
            "HARTINI ST._AISYAH NURHAEDAH MURNIATI SAMSIDAR ASNIAR HADIJAH BECCE NURLIA"
        ),
        words("LATIF BASRI HAMID TAHIR SALEH SAID MAPPA LAWA KADIR JUNAID"),
        words("LATIF BASRI HAMID TAHIR SALEH KADIR"),
        0.5,
        noble={"M": ("ANDI",), "F": ("ANDI",)},
        origins=words("BONE WAJO SOPPENG SINJAI PAREPARE MAKASSAR SIDRAP PINRANG BULUKUMBA"),
    ),
    "kutai": Group(
        0.10,
        words(
            "SAPRUDIN JUMRI ROSIDI MISRANSYAH SYAHRIL ZAINAL ALIANSYAH RUSLAN SUPIANSYAH HERLIANSYAH ARDIANSYAH "
            "BAHRAN IMRAN SOFYAN MASRAN JAILANI ABDUL_MUIS ASRANI"
        ),
        words(
            "NORLELA JUBAIDAH MAHMUDAH RAHMAH SAPIAH ROSMINAH ASIAH NURSIAH RUSMALA JAHRAH SALMAH NORMAH HAMSIAH "
            "MAHRITA"
        ),
        words("SYAHRANI RIFANI ARIFIN MAHYUDIN ANSYAH"),
        words("WATI SARI NINGSIH"),
        0.6,
        noble={"M": ("AJI", "AWANG"), "F": ("AJI", "DAYANG")},
    ),
    "dayak": Group(
        0.12,
        words(
            "YOHANES PETRUS PAULUS STEFANUS MARKUS YAKOBUS ANTONIUS SIANG LEDJIE ANYIE DING BILUNG LAHANG JALUNG "
            "HIBAU LUSANG UYANG IGAU BELAREQ LUHUNG"
        ),
        words(
            "MARIA YULIANA AGUSTINA ELISABETH MAGDALENA KRISTINA UBUNG LUHAN ASUNG LENJAU DIANG BUNGA LAING "
            "UNYANG IRANG LIDIA"
        ),
        words("LAHANG GELUAH TAQ LEDJIE UYANG BILUNG JALUNG HIBAU LUSANG BELAREQ NYAQ ANYIE WANG IGAU LUHAN"),
        words("LAHANG GELUAH TAQ LEDJIE UYANG BILUNG JALUNG HIBAU LUSANG BELAREQ NYAQ ANYIE WANG IGAU LUHAN"),
        0.3,
        islamic=False,
        origins=words("LONG_APARI LONG_PAHANGAI MALINAU BULUNGAN TANJUNG_SELOR"),
    ),
    "muslim": Group(
        0.03,
        words("AHMAD ABDULLAH RAHMAT HIDAYAT ISMAIL IBRAHIM YUSUF ARIF FAJAR RIZKY FIRMAN"),
        words("FATIMAH AISYAH NURUL KHADIJAH ZAINAB NUR_AINI ROSITA SALAMAH"),
        words("HIDAYAT RAMADHAN SAPUTRA FIRDAUS ALAMSYAH HASAN NURDIN"),
        words("FITRIANI RAHMAWATI HASANAH"),
        0.4,
        origins=words("MAKASSAR SURABAYA BANJARMASIN PALU"),
    ),
}
MUHAMMAD = ("MUHAMMAD", "MUHAMAD", "MOHAMMAD", "MOHAMAD", "M.")
HONORIFICS = {"M": ("H.", "HAJI", "BAPAK", "PAK"), "F": ("HJ.", "HAJJAH", "IBU", "BU")}
_HONORIFIC_WORDS = frozenset(h for hs in HONORIFICS.values() for h in hs)
_FILIAL = ("BIN", "BINTI")
# letters people confuse when typing names heard aloud
_TYPO_SUB = dict(zip("AEIYOUNMSZDTKGRLBPFJCWH", "EAYIUOMNZSTDGKLRPBPYSUK", strict=True))


def group_cumulative() -> tuple[list[str], list[float]]:
    """Group names and their cumulative family shares, for weighted picks with ``bisect``."""
    names, cum, total = [], [], 0.0
    for name, group in GROUPS.items():
        total += group.share
        names.append(name)
        cum.append(total)
    return names, cum


def make_name(rng: random.Random, group_name: str, sex: str, father: str | None = None) -> str:
    """An upper-case full name; ``father`` (a first name) may be appended with ``BIN``/``BINTI``."""
    group = GROUPS[group_name]
    given = rng.choice(group.male if sex == "M" else group.female)
    if group.islamic and sex == "M" and " " not in given and rng.random() < 0.14:
        variant = rng.random()
        prefix = "MUHAMMAD" if variant < 0.7 else "M." if variant < 0.85 else rng.choice(MUHAMMAD[1:4])
        given = f"{prefix} {given}"
    elif group.noble.get(sex) and rng.random() < 0.05:
        given = f"{rng.choice(group.noble[sex])} {given}"
    if rng.random() >= group.single and " " not in given:
        second = rng.choice(group.male_second if sex == "M" else group.female_second)
        if second != given:
            given = f"{given} {second}"
    if group.islamic and rng.random() < 0.08:
        dad = father or first_name(rng.choice(group.male))
        given = f"{given} {'BIN' if sex == 'M' else 'BINTI'} {dad}"
    return given


def first_name(name: str) -> str:
    """The first full word that is not a Muhammad prefix (what a child's ``bin``/``binti`` carries)."""
    words = name.split()
    for word in words:
        if word not in MUHAMMAD and not word.endswith("."):
            return word
    return words[0]


def display(name: str) -> str:
    """How an official types a name: ``SITI AMINAH BINTI ABDULLAH`` -> ``Siti Aminah binti Abdullah``."""
    return " ".join(w.lower() if w in _FILIAL else w[:1] + w[1:].lower() for w in name.split())


def has_muhammad(name: str) -> bool:
    return any(w in MUHAMMAD for w in name.upper().split())


def muhammad_variant(rng: random.Random, name: str) -> str | None:
    """Swap the Muhammad word for another spelling of it (``MUHAMMAD YUSUF`` -> ``M. YUSUF``)."""
    words = name.split()
    for i, word in enumerate(words):
        if word in MUHAMMAD:
            choices = [v for v in MUHAMMAD if v != word]
            words[i] = rng.choice(choices)
            return " ".join(words)
    return None


def with_honorific(rng: random.Random, name: str, sex: str) -> str:
    """Prefix a title the registry does not carry (``H.``, ``Hj.``, ``Bapak``, ``Ibu`` ...)."""
    return f"{rng.choice(HONORIFICS[sex])} {name}"


_OLD = (("OE", "U"), ("DJ", "J"), ("TJ", "C"))


def modern_spelling(name: str) -> str:
    """Spelling reform of 1972 in the direction the matcher normalises: oe -> u, dj -> j, tj -> c."""
    out = name.upper()
    for old, new in _OLD:
        out = out.replace(old, new)
    return out


def can_respell(name: str) -> bool:
    """Whether ``old_spelling`` has anything to change in ``name``."""
    return any(part in name for part in ("OE", "U", "J", "C"))


def old_spelling(rng: random.Random, name: str) -> str | None:
    """The same name in the other spelling: an old-spelled name is modernised, a modern one made old."""
    if any(old in name for old, _new in _OLD):
        return modern_spelling(name)
    rules = [(new, old) for old, new in _OLD if new in name]
    if not rules:
        return None
    new, old = rng.choice(rules)
    return name.replace(new, old)


# One edit in a shorter name is a different name to the verification's matcher (SOFI / SOCI scores 75 of 100, under
# the threshold of 80): such a person is nominated with another fault or none, so "accepted" stays true.
_TYPO_MIN_LETTERS = 10


def typo(rng: random.Random, name: str) -> str | None:
    """One character substituted, deleted or inserted inside a word of four letters or more, in a name of at least
    ten letters."""
    if not can_typo(name):
        return None
    words = name.split()
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and w not in _FILIAL]
    if not candidates:
        return None
    i = rng.choice(candidates)
    word = words[i]
    pos = rng.randrange(1, len(word))
    kind = rng.random()
    if kind < 0.6:
        new = word[:pos] + _TYPO_SUB.get(word[pos], "A" if word[pos] != "A" else "E") + word[pos + 1 :]
    elif kind < 0.85:
        new = word[:pos] + word[pos + 1 :]
    else:
        new = word[:pos] + word[pos - 1] + word[pos:]
    if new == word:
        new = word[:pos] + ("X" if word[pos] != "X" else "Q") + word[pos + 1 :]
    words[i] = new
    return " ".join(words)


def name_tokens(name: str) -> set[str]:
    """Comparable words: upper case, modern spelling, no titles, no ``bin``/``binti``, one Muhammad."""
    out = set()
    for word in modern_spelling(name).split():
        if word in _HONORIFIC_WORDS or word in _FILIAL:
            continue
        out.add("MUHAMMAD" if word in MUHAMMAD else word)
    return out


def other_person_name(rng: random.Random, name: str, sex: str) -> str:
    """A name of the same sex sharing no word with ``name``: clearly somebody else."""
    taken = name_tokens(name)
    groups = list(GROUPS)
    for _ in range(100):
        candidate = make_name(rng, rng.choice(groups), sex)
        # no shared word, and not one name hidden inside the other (ASIAH in SALASIAH)
        if not taken & name_tokens(candidate) and fuzz.token_set_ratio(candidate.upper(), name.upper()) < 60:
            return candidate
    raise RuntimeError(f"no distinct name found for {name!r}")


def can_typo(name: str) -> bool:
    """Whether ``typo`` has a word to change in ``name`` (and the name is long enough to survive one edit)."""
    if sum(c.isalpha() for c in name) < _TYPO_MIN_LETTERS:
        return False
    return any(len(w) >= 4 and w.isalpha() and w not in _FILIAL for w in name.split())


def stated_name(fault: str, rng: random.Random, name: str, sex: str) -> str:
    """The name a nominator writes for a person registered as ``name``, with a name ``fault`` injected."""
    if fault == "typo_in_name":
        changed = typo(rng, name)
    elif fault == "name_variant_muhammad":
        changed = muhammad_variant(rng, name)
    elif fault == "honorific":
        changed = with_honorific(rng, name, sex)
    elif fault == "old_spelling":
        changed = old_spelling(rng, name)
    elif fault == "wrong_person_name":
        changed = other_person_name(rng, name, sex)
    else:
        raise ValueError(f"not a name fault: {fault}")
    if changed is None or changed == name:
        raise ValueError(f"{fault} does not apply to {name!r}")
    return changed


NAME_FAULTS = frozenset({"typo_in_name", "name_variant_muhammad", "honorific", "old_spelling", "wrong_person_name"})
# the name faults that only some names can carry, and the test for them
FITS = {"typo_in_name": can_typo, "name_variant_muhammad": has_muhammad, "old_spelling": can_respell}
