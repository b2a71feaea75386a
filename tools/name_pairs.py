"""A labelled evaluation set of Indonesian name pairs, generated with its labels (deterministic: same seed, same file).

Each pair is two records (name, birth date, KK number, desa) and what they are: the same person written another
way (``same = 1``: a form against the registry, or a double registry record under another NIK) or two people
(``same = 0``: namesakes, people with similar names, siblings, twins, a parent and a child with the same name and
``bin``). The variants are the ones the naming rules of the regency's traditions produce (``name_rules``): Balinese
birth-order and caste names and their abbreviations, Bugis-Makassar titles and Daeng names, Buton La/Wa, Javanese
single names and old spelling, Arabic-derived names and their abbreviations, bin/binti, a Chinese name beside the
Indonesian one, Christian baptismal names, honorifics and degrees, and a typo in a long name. ``by_name`` says
whether a careful officer could tell from the two names alone (a son who shares his father's name, written without
``bin``, can only be told apart by the birth date): the name-match figures count only those.

``python -m tools.name_pairs [--out tools/data/name-pairs.csv]`` writes the committed file;
``python -m tools.name_eval`` measures the matcher on it.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_FILE = Path(__file__).parent / "data" / "name-pairs.csv"
SEED = 16
PER_KIND = 60  # pairs per kind and tradition
DESA = [f"64.08.{k:02d}.{2000 + d}" for k in range(1, 19) for d in range(1, 6)]


@dataclass(frozen=True)
class Pair:
    kind: str  # what the pair is, e.g. variant_abbreviation, sibling, twin
    tradition: str
    same: int  # 1: the same person
    by_name: int  # 1: the names alone can tell (counted in the name-match figures)
    name_a: str
    name_b: str
    birth_a: date
    birth_b: date
    kk_a: str
    kk_b: str
    desa_a: str
    desa_b: str


def w(text: str) -> list[str]:
    return text.split()


# ------------------------------------------------------------------------------------------------- the people
BALI_M = w("SUDIARTA WIRAWAN SUARDANA ARTAWAN SUKADANA WIRATAMA ADNYANA MAHENDRA DARMAWAN SUARJANA BUDIASA SUMERTA")
BALI_F = w("SUKERTI WULANDARI SURYANI ARIANI ASTITI RUSMINI SUARTINI WIDIANTARI SRIANI SUWITRI MARTINI")
BALI_SECOND = w("PUTRA YASA ARSANA WIJAYA ANTARA JAYA PARWATA")
BALI_ORDER = {1: w("WAYAN GEDE PUTU"), 2: w("MADE KADEK NENGAH"), 3: w("NYOMAN KOMANG"), 4: w("KETUT")}
BALI_ORDER_ABBREV = {
    "WAYAN": "Wy.",
    "GEDE": "Gd.",
    "PUTU": "Pt.",
    "MADE": "Md.",
    "KADEK": "Kd.",
    "NYOMAN": "Nym.",
    "KOMANG": "Kmg.",
    "KETUT": "Kt.",
    "NENGAH": "Ngh.",
}
BALI_CASTE = {
    "M": [("IDA BAGUS", "IB"), ("ANAK AGUNG", "A.A."), ("I GUSTI NGURAH", "I Gst. Ngr."), ("I DEWA", "I Dw.")],
    "F": [("IDA AYU", "IA"), ("ANAK AGUNG", "A.A."), ("I GUSTI AYU", "I Gst. Ayu"), ("DESAK", "Dsk.")],
}
BUGIS_M = w("BASO HASANUDDIN SYAMSUDDIN HAERUDDIN AMIRUDDIN SUDIRMAN SAHARUDDIN MUSTAFA ARIFUDDIN JAMALUDDIN")
BUGIS_F = w("NURHAYATI HASNAWATI RAHMAWATI HASMAWATI NURMIATI HASNIAH MUSDALIFAH NURJANNAH NURHAEDAH SAMSIDAR")
BUGIS_SECOND = w("LATIF BASRI HAMID TAHIR SALEH SAID KADIR JUNAID")
DAENG = w("NGALLE SIJAYA TOMPO BELLA MANGUNG NAI RURUNG")
BUTON_M = w("HASRUN BAKRI ALIMIN SAFIUDDIN RUSDIN HAMIRUDIN JUMADIL SAHIDIN ARSAD")
BUTON_F = w("NURHAYATI SITI_MARWAH HASNIA SALMA RAMLA WATINI MARYAM")
JAWA_M = w("SUTRISNO SUPARMAN WAGIMAN SUGENG SUKIRNO BAMBANG SUYANTO SUMARNO TUKIMAN KASIMAN SUWARNO MULYONO")
JAWA_F = w("TUKIYEM SUMARNI SUPARTI WARSINI SULASTRI PARTINI SUMIATI KATMINI SUPRIHATIN TUMINAH SUKINAH PONIYEM")
JAWA_SECOND = w("SANTOSO WIBOWO PRASETYO SETIAWAN NUGROHO SUSANTO PURNOMO HARYANTO UTOMO RIYADI")
JAWA_OLD = [("U", "OE"), ("J", "DJ"), ("C", "TJ")]
ARAB_M = w("ARSYAD ABDUL_RAHMAN ABDUL_GANI ABDUL_KADIR RAMLI SYAHRANI FAHRIANSYAH ZAINUDDIN HASBULLAH RAMADHAN")
ARAB_F = w("NURHAYATI FATIMAH AISYAH KHADIJAH ZUBAIDAH NORJANAH RAHMAH HALIMAH MASITAH JAMILAH")
ARAB_FATHER = w("HASAN YUSUF ABDULLAH ISMAIL IBRAHIM SALEH HAMZAH IDRIS")
CHINESE_ID_M = w("BUDI_SANTOSO HENDRA_WIJAYA SUSANTO_HALIM WILLY_KURNIAWAN TEDDY_GUNAWAN RUDY_HARTONO")
CHINESE_ID_F = w("LINDA_WIJAYA SUSI_HALIM LANNY_KURNIAWAN MEILIANA_TANOTO YENNY_SETIAWAN")
CHINESE_SURNAME = w("TAN LIM ONG GO LIE TJHIN KHOE THE")
CHINESE_GIVEN = w("KIM_LIONG BOEN_HOK SIAN_HWA MEI_LING TJOE_LAN KOK_HONG SWIE_HAN")
BAPTISMAL_M = w("YOHANES PETRUS PAULUS STEFANUS MARKUS YAKOBUS ANTONIUS FRANSISKUS")
BAPTISMAL_F = w("MARIA YULIANA AGUSTINA ELISABETH MAGDALENA KRISTINA MARTHA")
FAMILY_NAMES = w("LAHANG PONGTIKU TANDI NENOBAIS BILUNG JALUNG SAMBOLANGI TAKALAPETA ANYIE SIANG")
HONORIFICS = {"M": ["H.", "Haji", "Bapak", "Pak", "Drs.", "Ir."], "F": ["Hj.", "Ibu", "Bu", "Dra."]}
DEGREES = [", S.Pd", ", S.E.", " S.Pd.I", ", S.Kom", ", A.Md", ", S.E., M.M."]
TWIN_NAMES = [
    ("HASAN", "HUSAIN"),
    ("FAJAR", "FAJRI"),
    ("RINA", "RINI"),
    ("DWI_PUTRA", "DWI_PUTRI"),
    ("ADI", "ADE"),
    ("YUDI", "YUDA"),
    ("NANDA", "NINDA"),
    ("RAHMAT", "RAHMAN"),
]


def one(word: str) -> str:
    return word.replace("_", " ")


def title(name: str) -> str:
    """As an official types it: ``SITI AMINAH BINTI ABDULLAH`` -> ``Siti Aminah binti Abdullah``."""
    return " ".join(x.lower() if x in ("BIN", "BINTI") else x[:1] + x[1:].lower() for x in name.split())


# ------------------------------------------------------------------------------------------------- generation


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def birth(self) -> date:
        return date(1960, 1, 1) + timedelta(days=self.rng.randrange(45 * 365))

    def kk(self) -> str:
        return "6408" + "".join(self.rng.choices("0123456789", k=12))

    def desa(self) -> str:
        return self.rng.choice(DESA)

    def typo(self, name: str) -> str:
        words = name.split()
        long = [i for i, x in enumerate(words) if len(x) >= 6 and x.isalpha() and x not in ("BIN", "BINTI")]
        if sum(len(x) for x in words) < 10 or not long:
            return name
        i = self.rng.choice(long)
        word = words[i]
        pos = self.rng.randrange(2, len(word) - 1)
        words[i] = word[:pos] + word[pos + 1 :] if self.rng.random() < 0.5 else word[:pos] + word[pos] + word[pos:]
        return " ".join(words)

    def same(self, kind: str, tradition: str, registry: str, variant: str, double_record: bool = False) -> Pair:
        """One person: a form against the registry (same NIK), or a double record under another NIK (same birth
        date, with the same KK or the same desa: the corroboration the duplicate check needs)."""
        born, kk, desa = self.birth(), self.kk(), self.desa()
        if double_record and self.rng.random() < 0.5:
            return Pair(kind, tradition, 1, 1, variant, registry, born, born, self.kk(), kk, desa, desa)
        return Pair(kind, tradition, 1, 1, variant, registry, born, born, kk, kk, desa, self.desa())

    def other(
        self, kind: str, tradition: str, a: str, b: str, by_name: int = 1, same_day: bool = True, family: bool = False
    ) -> Pair:
        """Two people. Family members share the KK and the desa; others are born the same day when ``same_day``
        (the hard case for the duplicate check: only names and the corroborating signals tell them apart)."""
        born = self.birth()
        other_born = born if same_day else self.birth()
        kk, desa = self.kk(), self.desa()
        if family:
            return Pair(kind, tradition, 0, by_name, a, b, born, other_born, kk, kk, desa, desa)
        other_desa = desa if self.rng.random() < 0.5 else self.desa()
        return Pair(kind, tradition, 0, by_name, a, b, born, other_born, kk, self.kk(), desa, other_desa)


def _balinese(g: _Gen) -> Iterator[Pair]:
    rng = g.rng

    def person(sex: str, order: int | None = None, caste: tuple[str, str] | None = None) -> tuple[str, str, str]:
        order = order or rng.randint(1, 4)
        order_word = rng.choice(BALI_ORDER[order])
        own = rng.choice(BALI_M if sex == "M" else BALI_F)
        if rng.random() < 0.4:
            own += " " + rng.choice(BALI_SECOND)
        head = caste[0] if caste else ("I" if sex == "M" else "NI")
        return f"{head} {order_word} {own}", order_word, own

    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        caste = rng.choice(BALI_CASTE[sex]) if rng.random() < 0.5 else None
        name, order_word, own = person(sex, caste=caste)
        head = caste[0] if caste else ("I" if sex == "M" else "NI")
        short = BALI_ORDER_ABBREV[order_word]
        abbreviated = title(f"{head} {order_word}").rsplit(" ", 1)[0] + f" {short} {title(own)}"
        yield g.same("variant_abbreviation", "balinese", name, abbreviated)
        if caste:
            yield g.same("variant_caste_abbreviation", "balinese", name, f"{caste[1]} {title(order_word)} {title(own)}")
        synonyms = [x for x in BALI_ORDER[next(k for k, v in BALI_ORDER.items() if order_word in v)] if x != order_word]
        if synonyms:
            yield g.same("variant_birth_order_synonym", "balinese", name, title(f"{head} {rng.choice(synonyms)} {own}"))
        if not caste:
            yield g.same("variant_without_sex_marker", "balinese", name, title(f"{order_word} {own}"), True)
        yield g.same("variant_upper_case_double_record", "balinese", name, name.replace("  ", " "), True)
        # a sibling with the same personal name but another birth order: another person
        other_order = rng.choice([k for k in BALI_ORDER if order_word not in BALI_ORDER[k]])
        sibling = f"{head} {rng.choice(BALI_ORDER[other_order])} {own}"
        yield g.other("sibling_other_birth_order", "balinese", title(sibling), name, family=True, same_day=False)
        yield g.other("namesake_other_birth_order", "balinese", title(sibling), name)
        if not caste:  # a brother and a sister: I / Ni
            yield g.other("other_sex_marker", "balinese", title(f"{'NI' if sex == 'M' else 'I'} {order_word} {own}"),
                          name)  # fmt: skip
        twin_sex = rng.choice("MF")
        twin, *_ = person(twin_sex, order=2, caste=caste if caste and twin_sex == sex else None)
        first, *_ = person(sex, order=1, caste=caste)
        yield g.other("twin", "balinese", first, twin, family=True)


def _bugis(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        own = rng.choice(BUGIS_M if sex == "M" else BUGIS_F)
        second = rng.choice(BUGIS_SECOND)
        andi = rng.random() < 0.5
        base = f"{own} {second}" if rng.random() < 0.6 else own
        name = f"ANDI {base}" if andi else base
        if andi:
            yield g.same("variant_without_title", "bugis", name, title(base))
            yield g.same("variant_title_initial", "bugis", name, "A. " + title(base))
        else:
            yield g.same("variant_with_title", "bugis", name, "Andi " + title(base), True)
        daeng = rng.choice(DAENG)
        if sex == "M":
            yield g.same("variant_without_daeng_name", "bugis", f"{name} DAENG {daeng}", title(name))
            yield g.same("variant_daeng_abbreviated", "bugis", f"{name} DAENG {daeng}", title(name) + f" Dg. {daeng}")
            brother = f"{name} DAENG {rng.choice([d for d in DAENG if d != daeng])}"
            yield g.other("sibling_other_daeng_name", "bugis", brother, f"{name} DAENG {daeng}", family=True)
        respelled = name.replace("UDDIN", "UDIN").replace("SY", "S").replace("AE", "AI").replace("NN", "N")
        if respelled != name:
            yield g.same("variant_spelling", "bugis", name, title(respelled), True)
        other_own = rng.choice([x for x in (BUGIS_M if sex == "M" else BUGIS_F) if x != own])
        yield g.other("sibling_same_second_name", "bugis", f"{other_own} {second}", f"{own} {second}", family=True)
        other_second = rng.choice([s for s in BUGIS_SECOND if s != second])
        yield g.other("namesake_other_second_name", "bugis", f"{own} {other_second}", f"{own} {second}")


def _buton(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        own = one(rng.choice(BUTON_M if sex == "M" else BUTON_F))
        noble = rng.random() < 0.3
        marker = ("LA" if sex == "M" else "WA") + (" ODE" if noble else "")
        name = f"{marker} {own}"
        yield g.same("variant_without_la_wa", "buton", name, title(own))
        yield g.same("variant_case", "buton", name, title(name), True)
        other_marker = ("WA" if sex == "M" else "LA") + (" ODE" if noble else "")
        yield g.other("other_sex_marker", "buton", f"{other_marker} {own}", name, family=True)
        other = one(rng.choice([x for x in (BUTON_M if sex == "M" else BUTON_F) if one(x) != own]))
        yield g.other("namesake_marker_other_name", "buton", f"{marker} {other}", name)


def _javanese(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        own = rng.choice(JAWA_M if sex == "M" else JAWA_F)
        name = own if rng.random() < 0.5 else f"{own} {rng.choice(JAWA_SECOND)}"
        old = name
        for new_letters, old_letters in JAWA_OLD:
            old = old.replace(new_letters, old_letters, 1) if new_letters in old and rng.random() < 0.7 else old
        if old != name:
            yield g.same("variant_old_spelling", "javanese", name, title(old), True)
        first = name.split()[0]
        if first.endswith("O") and len(first) >= 5:
            yield g.same("variant_final_a_o", "javanese", name, title(first[:-1] + "A" + name[len(first) :]))
        yield g.same("variant_honorific", "javanese", name, f"{rng.choice(HONORIFICS[sex])} {title(name)}")
        if " " in name:
            yield g.same("variant_typo_long_name", "javanese", name, title(g.typo(name)))
            yield g.other("mononym_against_longer_name", "javanese", own, name)
        else:  # parent and child with the same single name: only the birth date tells
            yield g.other("parent_child_same_name", "javanese", name, name, by_name=0, same_day=False, family=True)
        similar = [x for x in (JAWA_M if sex == "M" else JAWA_F) if x != own and x[:3] == own[:3]]
        if similar:
            yield g.other("similar_single_name", "javanese", rng.choice(similar), own)


def _arabic(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        own = one(rng.choice(ARAB_M if sex == "M" else ARAB_F))
        muhammad = sex == "M" and rng.random() < 0.5
        name = f"MUHAMMAD {own}" if muhammad else own
        father = rng.choice(ARAB_FATHER)
        filial = "BIN" if sex == "M" else "BINTI"
        if muhammad:
            short = rng.choice(["M.", "Muh.", "Moh.", "Mhd.", "Muhamad", "Mochammad"])
            yield g.same("variant_muhammad_abbreviation", "arabic", name, f"{short} {title(own)}")
        if "ABDUL" in name:
            yield g.same("variant_abd_abbreviation", "arabic", name, title(name).replace("Abdul ", "Abd. "), True)
            yield g.same("variant_word_break", "arabic", name, title(name).replace("Abdul ", "Abdul"), True)
        if name.startswith("NUR") or "NOR" in name:
            alt = name.replace("NUR", "NOOR", 1) if name.startswith("NUR") else name.replace("NOR", "NUR", 1)
            yield g.same("variant_nur_noor", "arabic", name, title(alt), True)
        spelled = name.replace("DH", "D").replace("KH", "H").replace("DD", "D").replace("SY", "S").replace("Z", "J")
        if spelled != name:
            yield g.same("variant_arabic_spelling", "arabic", name, title(spelled), True)
        with_bin = f"{name} {filial} {father}"
        yield g.same("variant_bin_added", "arabic", name, title(with_bin))
        yield g.same("variant_bin_dropped", "arabic", with_bin, title(name), True)
        uncle = rng.choice([f for f in ARAB_FATHER if f != father])
        yield g.other("other_father_same_name", "arabic", f"{name} {filial} {uncle}", with_bin)
        # parent and child: the son carries his father's name after bin
        if sex == "M":
            son = f"{name} BIN {name}"
            dad = f"{name} BIN {father}"
            yield g.other("parent_child_same_name_bin", "arabic", son, dad, same_day=False, family=True)
            yield g.other("parent_child_bin_on_one_side", "arabic", son, name, by_name=0, same_day=False, family=True)
        sibling = one(rng.choice([x for x in (ARAB_M if sex == "M" else ARAB_F) if one(x) != own]))
        yield g.other("sibling_same_father", "arabic", f"{sibling} {filial} {father}", with_bin, family=True)
        a, b = rng.choice(TWIN_NAMES)
        yield g.other("twin", "arabic", one(a), one(b), family=True)


def _chinese(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        indonesian = one(rng.choice(CHINESE_ID_M if sex == "M" else CHINESE_ID_F))
        chinese = f"{rng.choice(CHINESE_SURNAME)} {one(rng.choice(CHINESE_GIVEN))}"
        yield g.same(
            "variant_chinese_name_in_brackets", "chinese", indonesian, f"{title(indonesian)} ({title(chinese)})"
        )
        yield g.same("variant_alias", "chinese", f"{indonesian} ALIAS {chinese}", title(chinese), True)
        yield g.same("variant_alias_abbreviated", "chinese", f"{indonesian} ALS {chinese}", title(indonesian), True)
        surname, *given = chinese.split()
        sibling_given = one(rng.choice([x for x in CHINESE_GIVEN if one(x) != " ".join(given)]))
        yield g.other("sibling_same_surname", "chinese", f"{surname} {sibling_given}", chinese, family=True)
        family = indonesian.split()[-1]
        other_first = rng.choice([x for x in (CHINESE_ID_M if sex == "M" else CHINESE_ID_F) if one(x) != indonesian])
        yield g.other("sibling_same_family_name", "chinese", f"{one(other_first).split()[0]} {family}", indonesian,
                      family=True)  # fmt: skip


def _christian(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        baptismal = rng.choice(BAPTISMAL_M if sex == "M" else BAPTISMAL_F)
        family = rng.choice(FAMILY_NAMES)
        name = f"{baptismal} {family}"
        yield g.same("variant_baptismal_initial", "christian", name, f"{baptismal[0]}. {title(family)}")
        yield g.same("variant_without_baptismal_name", "christian", name, title(family))
        yield g.same("variant_religious_title", "christian", name, f"Pdt. {title(name)}, S.Th", True)
        brother = rng.choice([b for b in (BAPTISMAL_M if sex == "M" else BAPTISMAL_F) if b != baptismal])
        yield g.other("sibling_other_baptismal_name", "christian", f"{brother} {family}", name, family=True)
        yield g.other("twin", "christian", f"{brother} {family}", name, family=True)
        other_family = rng.choice([f for f in FAMILY_NAMES if f != family])
        yield g.other("namesake_other_family_name", "christian", f"{baptismal} {other_family}", name)


def _titles(g: _Gen) -> Iterator[Pair]:
    rng = g.rng
    for _ in range(PER_KIND):
        sex = rng.choice("MF")
        group = rng.choice([(JAWA_M, JAWA_F), (BUGIS_M, BUGIS_F), (ARAB_M, ARAB_F)])
        own = one(rng.choice(group[0] if sex == "M" else group[1]))
        name = f"{own} {rng.choice(JAWA_SECOND + BUGIS_SECOND)}"
        yield g.same("variant_degree", "titles", name, title(name) + rng.choice(DEGREES))
        yield g.same("variant_honorific_and_degree", "titles", name, f"{rng.choice(HONORIFICS[sex])} "
                     f"{title(name)}{rng.choice(DEGREES)}", True)  # fmt: skip


TRADITIONS: tuple[Callable[[_Gen], Iterator[Pair]], ...] = (
    _balinese,
    _bugis,
    _buton,
    _javanese,
    _arabic,
    _chinese,
    _christian,
    _titles,
)


def generate(seed: int = SEED) -> list[Pair]:
    """Every pair, deterministic for a seed; a pair whose two names are equal strings only where that is the point
    (a parent and a child with one name)."""
    g = _Gen(seed)
    out = []
    for tradition in TRADITIONS:
        out += [p for p in tradition(g) if p.name_a != p.name_b or p.by_name == 0]
    return out


HEADER = [f.name for f in fields(Pair)]


def write(pairs: list[Pair], path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for pair in pairs:
            writer.writerow([v.isoformat() if isinstance(v, date) else v for v in astuple(pair)])
    return len(pairs)


def read(path: Path = DEFAULT_FILE) -> list[Pair]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Pair(
                r["kind"],
                r["tradition"],
                int(r["same"]),
                int(r["by_name"]),
                r["name_a"],
                r["name_b"],
                date.fromisoformat(r["birth_a"]),
                date.fromisoformat(r["birth_b"]),
                r["kk_a"],
                r["kk_b"],
                r["desa_a"],
                r["desa_b"],
            )
            for r in csv.DictReader(handle)
        ]


def main(
    out: Annotated[Path, typer.Option(help="Where to write the pairs.")] = DEFAULT_FILE,
    seed: Annotated[int, typer.Option()] = SEED,
) -> None:
    """Write the labelled name pairs (the committed file is the default seed's)."""
    count = write(generate(seed), out)
    typer.echo(f"wrote {count} pairs to {out}")


if __name__ == "__main__":
    typer.run(main)
