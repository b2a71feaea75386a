"""The synthetic registry and nominations: deterministic, structurally right, and labelled truthfully."""

from __future__ import annotations

import csv
import dataclasses
import re
from collections import Counter, defaultdict
from datetime import date

import phonenumbers
import pytest
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from stdnum.id import nik as stdnum_nik
from typer.testing import CliRunner

from services.verification.domain import Policy, names
from shared.regions import default_regions, nik_place, nik_prefix
from tools.synthetic import (
    API_OCCUPATIONS,
    DEFAULT_MIX,
    FAULT_OUTCOME,
    OUTCOMES,
    REFERENCE_DATE,
    REGISTRY_HEADER,
    Mix,
    app,
    generate_nominations,
    generate_registry,
    read_nominations,
    summary,
    write_nominations,
    write_registry,
)

REGENCY = "64.08"
PEOPLE = 20_000
COUNT = 3_000
REGIONS = default_regions()
KECAMATAN_PREFIXES = {nik_prefix(r.code) for r in REGIONS.by_level("kecamatan")}
DESA = {r.code for r in REGIONS.by_level("desa_kelurahan")}
MUHAMMAD = {"MUHAMMAD", "MUHAMAD", "MOHAMMAD", "MOHAMAD", "M."}


@pytest.fixture(scope="module")
def registry():
    return list(generate_registry(PEOPLE, seed=42, regency=REGENCY))


@pytest.fixture(scope="module")
def by_nik(registry):
    return {r.nik: r for r in registry}


@pytest.fixture(scope="module")
def nominations(registry):
    return list(generate_nominations(registry, COUNT, seed=7, regency=REGENCY))


def in_regency(code: str) -> bool:
    return code.startswith(REGENCY + ".")


def age(born: date) -> int:
    ref = REFERENCE_DATE
    return ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))


def tokens(name: str) -> set[str]:
    words = set(name.upper().split()) - {"BIN", "BINTI"}
    return {"MUHAMMAD" if w in MUHAMMAD else w for w in words}


def problems(request: dict) -> set[str]:
    """What the nomination API would answer 422 for, checked independently of the generator."""
    found = set()
    nik = request["nik"]
    # the date part as stdnum reads it, the province from the national list (issue 16)
    if not (re.fullmatch(r"\d{16}", nik) and stdnum_nik.is_valid("6408" + nik[4:]) and nik_place(nik) == "known"):
        found.add("bad_nik")
    phone = phonenumbers.parse(request["phone"], "ID")
    mobile = phonenumbers.number_type(phone) == phonenumbers.PhoneNumberType.MOBILE
    if not (re.fullmatch(r"08\d{8,11}", request["phone"]) and mobile and phonenumbers.is_valid_number(phone)):
        found.add("bad_phone")
    address = request["address"]
    if address["desa_code"] not in DESA:
        found.add("bad_region")
    elif address["desa_code"].rsplit(".", 1)[0] != address["kecamatan_code"]:
        found.add("region_mismatch")
    if date.fromisoformat(request["birth_date"]) > REFERENCE_DATE:
        found.add("future_birth_date")
    if request["supporting_letter"] is None and request["nominator"]["type"] in ("rt", "desa"):
        found.add("missing_letter")
    return found


# ------------------------------------------------------------------ determinism


def test_registry_file_is_byte_identical_for_a_seed_and_differs_across_seeds(tmp_path):
    paths = [tmp_path / name for name in ("a.csv", "b.csv", "c.csv")]
    for path, seed in zip(paths, (42, 42, 43), strict=True):
        write_registry(generate_registry(2_000, seed=seed, regency=REGENCY), path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_nominations_file_is_byte_identical_for_a_seed_and_differs_across_seeds(tmp_path, registry):
    paths = [tmp_path / name for name in ("a.jsonl", "b.jsonl", "c.jsonl")]
    for path, seed in zip(paths, (7, 7, 8), strict=True):
        write_nominations(generate_nominations(registry, 500, seed=seed, regency=REGENCY), path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_nominations_from_a_registry_file_equal_those_from_the_records(tmp_path, registry):
    path = tmp_path / "registry.csv"
    write_registry(registry, path)
    from_file = list(generate_nominations(path, 300, seed=3, regency=REGENCY))
    assert from_file == list(generate_nominations(registry, 300, seed=3, regency=REGENCY))


# ------------------------------------------------------------------ registry


@pytest.mark.parametrize("people", [1, 7, 1_234])
def test_registry_has_exactly_the_requested_size_and_header(tmp_path, people):
    path = tmp_path / "registry.csv"
    assert write_registry(generate_registry(people, seed=1, regency=REGENCY), path) == people
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(REGISTRY_HEADER)
    assert rows[0] == (
        "NIK,NO_KK,NAMA_LGKP,TMPT_LHR,TGL_LHR,JENIS_KLMIN,ALAMAT,NO_RT,NO_RW,KEL_CODE,KEL_NAME,KEC_NAME,"
        "KAB_NAME,PROP_NAME,JENIS_PKRJN,STATUS_KAWIN,STATUS"
    ).split(",")
    assert len(rows) == people + 1
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[4]) for row in rows[1:])


def test_niks_are_well_formed_unique_and_encode_sex(registry):
    niks = [r.nik for r in registry]
    assert len(set(niks)) == len(niks)
    for record in registry:
        nik = record.nik
        assert re.fullmatch(r"\d{16}", nik)
        assert nik[:6] in KECAMATAN_PREFIXES
        assert stdnum_nik.is_valid(nik)
        day = int(nik[6:8])
        assert (41 <= day <= 71) if record.jenis_klmin == "PEREMPUAN" else (1 <= day <= 31)
        assert int(nik[12:]) >= 1


def test_most_niks_encode_the_birth_date_and_were_issued_where_people_live(registry):
    def encoded(r):
        born = r.tgl_lhr
        return f"{born.day + (40 if r.jenis_klmin == 'PEREMPUAN' else 0):02d}{born:%m%y}"

    wrong_date = sum(r.nik[6:12] != encoded(r) for r in registry) / len(registry)
    elsewhere = sum(r.nik[:6] != nik_prefix(r.kel_code.rsplit(".", 1)[0]) for r in registry) / len(registry)
    assert 0.01 < wrong_date < 0.04
    assert 0.05 < elsewhere < 0.15


def test_residence_is_spread_over_the_regency_with_some_elsewhere_in_the_province(registry):
    outside = [r for r in registry if not in_regency(r.kel_code)]
    assert 0.03 < len(outside) / len(registry) < 0.07
    assert all(r.kel_code.startswith("64.") for r in outside)
    regency_kecamatan = {r.code for r in REGIONS.children(REGENCY)}
    assert {r.kel_code.rsplit(".", 1)[0] for r in registry if in_regency(r.kel_code)} == regency_kecamatan
    for record in registry:
        desa = REGIONS.get(record.kel_code)
        assert desa is not None and desa.level == "desa_kelurahan"
        assert record.kel_name == desa.name.upper()
        assert record.kec_name == REGIONS.get(desa.parent_code).name.upper()
        assert re.fullmatch(r"\d{3}", record.no_rt) and re.fullmatch(r"\d{3}", record.no_rw)
    assert {r.kab_name for r in registry if in_regency(r.kel_code)} == {"KUTAI TIMUR"}
    assert {r.prop_name for r in registry} == {"KALIMANTAN TIMUR"}


def test_families_share_a_card_and_an_address(registry):
    families = defaultdict(list)
    for record in registry:
        families[record.no_kk].append(record)
    sizes = Counter(len(members) for members in families.values())
    assert set(sizes) == {1, 2, 3, 4, 5}
    for no_kk, members in families.items():
        assert re.fullmatch(r"\d{16}", no_kk)
        assert no_kk[:6] == nik_prefix(members[0].kel_code.rsplit(".", 1)[0])
        assert len({(m.kel_code, m.alamat, m.no_rt, m.no_rw) for m in members}) == 1


def test_statuses_ages_names_and_occupations_look_like_the_population(registry):
    status = Counter(r.status for r in registry)
    assert set(status) == {"HIDUP", "MATI", "TIDAK_AKTIF"}
    assert 0.006 < status["MATI"] / PEOPLE < 0.015
    assert 0.001 < status["TIDAK_AKTIF"] / PEOPLE < 0.006
    ages = [age(r.tgl_lhr) for r in registry]
    assert sum(18 <= a <= 70 for a in ages) / PEOPLE > 0.9
    assert 0 < sum(a < 18 for a in ages) / PEOPLE < 0.08
    assert 0 < sum(a > 65 for a in ages) / PEOPLE < 0.15
    assert all(14 <= a <= 81 for a in ages)
    assert {r.jenis_klmin for r in registry} == {"LAKI-LAKI", "PEREMPUAN"}
    assert all(r.nama_lgkp == r.nama_lgkp.upper() for r in registry)
    words = [r.nama_lgkp.split() for r in registry]
    assert sum(len(w) == 1 for w in words) / PEOPLE > 0.2
    assert any("BIN" in w for w in words) and any("BINTI" in w for w in words)
    assert any(MUHAMMAD & set(w) for w in words)
    assert len({r.nama_lgkp for r in registry}) > 1_000
    occupations = {r.jenis_pkrjn for r in registry}
    assert {"PETANI/PEKEBUN", "NELAYAN/PERIKANAN", "BURUH HARIAN LEPAS", "WIRASWASTA", "LAINNYA"} <= occupations


def test_an_unknown_regency_is_refused():
    with pytest.raises(ValueError):
        next(generate_registry(10, seed=1, regency="64.99"))


# ------------------------------------------------------------------ nominations


def test_outcomes_follow_the_configured_mix(nominations):
    assert set(OUTCOMES) == set(FAULT_OUTCOME.values())
    assert {n.expected for n in nominations} == set(OUTCOMES)
    by_fault = summary(nominations, by="fault")
    assert by_fault == Counter(DEFAULT_MIX.counts(COUNT))
    by_outcome = summary(nominations)
    assert 0.76 < by_outcome["accepted"] / COUNT < 0.92
    assert by_outcome["duplicate"] == round(0.02 * COUNT)
    assert by_outcome["invalid"] == round(0.03 * COUNT)
    for outcome in OUTCOMES:
        if outcome.startswith("rejected:"):
            assert 0.01 < by_outcome[outcome] / COUNT < 0.03
    assert summary([n.__dict__ for n in nominations]) == by_outcome


def test_rates_are_configurable(registry):
    mix = dataclasses.replace(DEFAULT_MIX, bad_phone=0.2, deceased=0.0)
    made = summary(generate_nominations(registry, 1_000, seed=5, regency=REGENCY, mix=mix), by="fault")
    assert made["bad_phone"] == 200
    assert made["deceased"] == 0
    with pytest.raises(ValueError):
        Mix(bad_phone=0.99)
    with pytest.raises(ValueError):
        Mix(typo_in_name=-0.1)
    assert sum(Mix().counts(997).values()) == 997


def test_requests_have_the_api_shape(nominations):
    for n in nominations:
        r = n.request
        assert set(r) == {
            "nik", "full_name", "birth_date", "sex", "phone", "address", "occupation", "nominator",
            "supporting_letter",
        }  # fmt: skip
        assert r["sex"] in ("M", "F") and r["occupation"] in API_OCCUPATIONS and r["full_name"].strip()
        assert set(r["address"]) == {"kecamatan_code", "desa_code", "rt", "rw", "street"}
        assert re.fullmatch(r"\d{3}", r["address"]["rt"]) and re.fullmatch(r"\d{3}", r["address"]["rw"])
        nominator, letter = r["nominator"], r["supporting_letter"]
        assert set(nominator) == {"type", "name", "region_code", "email", "phone"}
        if nominator["type"] == "disnaker":
            assert nominator["region_code"] == REGENCY
        else:
            assert nominator["type"] in ("rt", "desa")
            assert nominator["region_code"] == r["address"]["desa_code"]
        assert nominator["email"] is None or re.fullmatch(r"[a-z0-9.]+@[a-z.]+\.example\.org", nominator["email"])
        if letter is not None:
            assert set(letter) == {"number", "date", "issuer"}
            assert re.fullmatch(r"[\w.\-/]+/(I|II|III|IV|V|VI|VII|VIII|IX|X|XI|XII)/\d{4}", letter["number"])
            assert date.fromisoformat(letter["date"]) <= REFERENCE_DATE


def test_invalid_requests_are_invalid_in_the_named_way_and_the_rest_are_not(nominations):
    for n in nominations:
        found = problems(n.request)
        if n.expected == "invalid":
            assert found == {n.fault}, (n.fault, n.request)
        else:
            assert found == set(), (n.fault, found)
    bad = [n.request["nik"] for n in nominations if n.fault == "bad_nik"]
    assert any(len(nik) != 16 for nik in bad)
    assert any(len(nik) == 16 and not nik.isdigit() for nik in bad)
    assert any(nik.isdigit() and len(nik) == 16 and not stdnum_nik.is_valid(nik) for nik in bad)  # province/date
    assert any(nik.isdigit() and len(nik) == 16 and int(nik[6:8]) % 40 in (0, 32, 38) for nik in bad)  # no such day


def test_accepted_requests_are_alive_eligible_people_of_the_regency(nominations, by_nik):
    for n in (n for n in nominations if n.expected == "accepted"):
        person = by_nik[n.request["nik"]]
        assert person.status == "HIDUP"
        assert in_regency(person.kel_code)
        assert 18 <= age(person.tgl_lhr) <= 65
        assert n.request["birth_date"] == person.tgl_lhr.isoformat()
        assert n.request["sex"] == ("F" if person.jenis_klmin == "PEREMPUAN" else "M")
        assert n.request["address"]["desa_code"] == person.kel_code
        stated, real = n.request["full_name"].upper(), person.nama_lgkp
        nik_date = n.request["nik"][6:12]
        encoded = f"{person.tgl_lhr.day + (40 if n.request['sex'] == 'F' else 0):02d}{person.tgl_lhr:%m%y}"
        assert (nik_date != encoded) == (n.fault == "nik_birthdate_differs")
        if n.fault in ("none", "nik_birthdate_differs"):
            assert stated == real
        elif n.fault == "typo_in_name":
            assert Levenshtein.distance(stated, real) == 1
            assert names.score(stated, real) >= Policy().name_match_threshold, (stated, real)
        elif n.fault == "name_variant_muhammad":
            assert stated != real and tokens(stated) == tokens(real)
        elif n.fault == "honorific":
            title, rest = stated.split(" ", 1)
            assert rest == real and title in {"H.", "HJ.", "HAJI", "HAJJAH", "BAPAK", "PAK", "IBU", "BU"}
        elif n.fault == "old_spelling":
            modern = [s.replace("OE", "U").replace("DJ", "J").replace("TJ", "C") for s in (stated, real)]
            assert stated != real and modern[0] == modern[1]
        else:
            pytest.fail(f"unexpected accepted fault {n.fault}")


def test_rejections_carry_their_reason(nominations, by_nik):
    seen = Counter()
    for n in nominations:
        if not n.expected.startswith("rejected:"):
            continue
        seen[n.expected] += 1
        person = by_nik.get(n.request["nik"])
        assert in_regency(n.request["address"]["desa_code"])
        if n.expected == "rejected:REGISTRY_NOT_FOUND":
            assert person is None
            assert stdnum_nik.is_valid(n.request["nik"]) and n.request["nik"][:4] == nik_prefix(REGENCY)
            continue
        assert n.request["birth_date"] == person.tgl_lhr.isoformat() and 18 <= age(person.tgl_lhr) <= 65
        reason = n.expected.split(":")[1]
        expected_status = {"DECEASED": "MATI", "INACTIVE": "TIDAK_AKTIF"}.get(reason, "HIDUP")
        assert person.status == expected_status
        assert in_regency(person.kel_code) == (reason != "OUTSIDE_PROGRAMME_REGENCY")
        if reason == "NAME_MISMATCH":
            assert not tokens(n.request["full_name"]) & tokens(person.nama_lgkp)
            assert fuzz.token_set_ratio(n.request["full_name"].upper(), person.nama_lgkp) < 70
        else:
            assert n.request["full_name"].upper() == person.nama_lgkp
    assert len(seen) == 5


def test_duplicates_repeat_an_earlier_accepted_nik_and_everyone_else_is_distinct(nominations):
    first_seen = {}
    for i, n in enumerate(nominations):
        nik = n.request["nik"]
        if n.expected == "duplicate":
            assert nik in first_seen
            assert nominations[first_seen[nik]].expected == "accepted"
        else:
            assert nik not in first_seen, "a person was nominated twice without being labelled a duplicate"
            first_seen[nik] = i
    assert any(n.expected == "duplicate" for n in nominations)


def test_a_registry_too_small_for_the_count_is_refused():
    tiny = list(generate_registry(40, seed=1, regency=REGENCY))
    with pytest.raises(ValueError, match="too few"):
        list(generate_nominations(tiny, 500, seed=1, regency=REGENCY))


# ------------------------------------------------------------------ command line


def test_cli_writes_both_files_and_a_summary(tmp_path):
    runner = CliRunner()
    registry_csv, out = tmp_path / "registry.csv", tmp_path / "nominations.jsonl"
    result = runner.invoke(app, ["registry", "--people", "3000", "--seed", "4", "--out", str(registry_csv)])
    assert result.exit_code == 0, result.output
    assert len(registry_csv.read_text(encoding="utf-8").splitlines()) == 3001
    args = ["nominations", "--registry", str(registry_csv), "--count", "200", "--out", str(out)]
    result = runner.invoke(app, [*args, "--rate", "bad_phone=0.1"])
    assert result.exit_code == 0, result.output
    made = list(read_nominations(out))
    assert len(made) == 200 and summary(made, by="fault")["bad_phone"] == 20
    result = runner.invoke(app, ["summary", str(out)])
    assert result.exit_code == 0 and "accepted" in result.output
    assert runner.invoke(app, [*args, "--rate", "no_such_fault=0.1"]).exit_code != 0
