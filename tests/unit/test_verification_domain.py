import uuid
from datetime import UTC, date, datetime

import pytest

from services.verification import domain
from services.verification.domain import CATALOGUE, Policy, RegistryRecord, decide
from services.verification.domain.severities import severity
from shared.contracts import (
    Address,
    IdentityRejected,
    IdentityVerified,
    NominationSubmitted,
    Nominator,
    SupportingLetter,
)
from shared.regions import Region, RegionIndex

REGIONS = RegionIndex(
    [
        Region("64", "Kalimantan Timur", "provinsi"),
        Region("64.08", "Kabupaten Kutai Timur", "kabupaten_kota"),
        Region("64.08.01", "Muara Ancalong", "kecamatan"),
        Region("64.08.01.2001", "Senyiur", "desa_kelurahan"),
        Region("64.11", "Kabupaten Mahakam Ulu", "kabupaten_kota"),  # newer than stdnum's national list
        Region("64.11.01", "Long Hubung", "kecamatan"),
    ],
    "test-regions-1",
)
POLICY = Policy(name_match_threshold=80, min_age=18, max_age=65)
ON = date(2026, 11, 21)
BORN = date(1990, 1, 5)


def make_nik(born: date = BORN, sex: str = "F", kecamatan: str = "640801", serial: str = "0001") -> str:
    return f"{kecamatan}{born.day + (40 if sex == 'F' else 0):02d}{born.month:02d}{born.year % 100:02d}{serial}"


NIK = make_nik()
LETTER = SupportingLetter(number="140/12/RT.01/XI/2026", date=date(2026, 11, 1), issuer="Ketua RT 001")


def nomination(**changes) -> NominationSubmitted:
    fields = {
        "nomination_id": uuid.uuid4(),
        "nik": NIK,
        "full_name": "Hj. Siti Aminah",
        "birth_date": BORN,
        "sex": "F",
        "phone": "+6281234567890",
        "address": Address(kecamatan_code="64.08.01", desa_code="64.08.01.2001", rt="001", rw="002"),
        "occupation": "petani_pekebun",
        "nominator": Nominator(type="rt", name="Pak RT", region_code="64.08.01.2001"),
        "supporting_letter": LETTER,
        "programme_regency": "64.08",
    }
    return NominationSubmitted(**(fields | changes))


def record(**changes) -> RegistryRecord:
    fields = {
        "nik": NIK,
        "full_name": "SITI AMINAH",
        "birth_date": BORN,
        "sex": "F",
        "kel_code": "64.08.01.2001",
        "status": "HIDUP",
    }
    return RegistryRecord(**(fields | changes))


def codes(outcome: domain.CheckOutcome) -> list[str]:
    return [f.code for f in outcome.findings]


def run(n: NominationSubmitted | None = None, rec: RegistryRecord | None = None, **kw) -> domain.Decision:
    args = {"on": ON, "already_verified": False, "regions": REGIONS, "policy": POLICY} | kw
    return decide(n or nomination(), record=rec if rec is not None else record(), **args)


# ------------------------------------------------------------------------------------------------ catalogue


def test_every_code_has_a_severity_and_an_english_description():
    assert CATALOGUE
    for code, spec in CATALOGUE.items():
        assert code.isupper() and severity(code) in ("reject", "flag", "review") and spec.description.endswith(".")


def test_flags_are_exactly_the_warnings_of_the_handbook():
    flags = {c for c in CATALOGUE if severity(c) == "flag"}
    # plus NIK_REGENCY_UNKNOWN (issue 16): a NIK keeps the code of a regency that has since moved province
    assert flags == {"NIK_KECAMATAN_UNKNOWN", "NIK_REGENCY_UNKNOWN", "NIK_BIRTHDATE_MISMATCH", "SEX_MISMATCH"}


def test_a_finding_must_use_a_catalogued_code():
    with pytest.raises(KeyError):
        domain.finding("NOT_A_CODE", "x")


# ------------------------------------------------------------------------------------------- NIK structure


def nik_check(nik: str, born: date = BORN, sex: str = "F") -> domain.CheckOutcome:
    return domain.nik_structure(nik, born, sex, REGIONS)


def test_a_well_formed_nik_matching_the_stated_facts_passes():
    outcome = nik_check(NIK)
    assert outcome.status == "passed" and outcome.findings == ()


@pytest.mark.parametrize(
    "nik",
    [
        "640801450190000",  # 15 digits
        "64080145019000011",  # 17 digits
        "640801450190000A",  # a letter
        "6408 01450190001",  # a space
        "６４０８０１４５０１９０００１",  # full-width digits
        "6408013201900001",  # day 32
        "6408017201900001",  # day 72 (a woman's 32)
        "6408010513900001",  # month 13
        "9908014501900001",  # unknown province
        "0008014501900001",  # province 00
    ],
)
def test_a_malformed_nik_is_rejected(nik):
    outcome = nik_check(nik)
    assert outcome.status == "failed" and codes(outcome) == ["NIK_INVALID"]
    assert nik not in outcome.findings[0].detail


def test_a_regency_missing_from_stdnum_but_in_the_official_list_is_known():
    assert nik_check(make_nik(kecamatan="641101")).status == "passed"


def test_an_old_regency_code_of_a_known_province_is_flagged_for_review():
    # 64.04 (Bulungan) moved to Kalimantan Utara (65.01) in 2012; NIKs issued before keep 6404. Before issue 16 it
    # passed only because python-stdnum's old data still lists it, with a misleading unknown-kecamatan warning.
    outcome = nik_check(make_nik(kecamatan="640401"))
    assert outcome.status == "flagged" and codes(outcome) == ["NIK_REGENCY_UNKNOWN"]
    assert "national region list" in outcome.findings[0].detail


def test_an_unknown_regency_of_kalimantan_timur_is_a_flag_not_invalid():
    # was NIK_INVALID before issue 16: a well-formed NIK of a known province with an unknown regency code is reviewed
    outcome = nik_check("6475014501900001")
    assert outcome.status == "flagged" and codes(outcome) == ["NIK_REGENCY_UNKNOWN"]


def test_an_unknown_kecamatan_in_kalimantan_timur_only_warns():
    outcome = nik_check(make_nik(kecamatan="640899"))
    assert outcome.status == "flagged" and codes(outcome) == ["NIK_KECAMATAN_UNKNOWN"]


def test_kecamatan_outside_kalimantan_timur_is_not_checked_against_the_province_list():
    assert nik_check(make_nik(kecamatan="357801")).status == "passed"  # Surabaya


def test_a_birth_date_in_the_nik_differing_from_the_stated_one_only_flags():
    outcome = nik_check(NIK, born=date(1990, 1, 6))
    assert outcome.status == "flagged" and codes(outcome) == ["NIK_BIRTHDATE_MISMATCH"]
    assert "birth date" in outcome.findings[0].detail and "sex" not in outcome.findings[0].detail


def test_a_sex_in_the_nik_differing_from_the_stated_one_only_flags():
    outcome = nik_check(NIK, sex="M")
    assert outcome.status == "flagged" and codes(outcome) == ["NIK_BIRTHDATE_MISMATCH"]
    assert "sex" in outcome.findings[0].detail


def test_the_nik_year_is_compared_without_its_century():
    nik = make_nik(born=date(2001, 3, 4), sex="M")
    assert nik_check(nik, born=date(2001, 3, 4), sex="M").status == "passed"
    assert domain.nik_birth_date(nik) == (4, 3, 1, "M")
    assert domain.nik_birth_date(make_nik(born=date(1975, 12, 31), sex="F")) == (31, 12, 75, "F")


def test_both_warnings_can_come_together():
    outcome = nik_check(make_nik(kecamatan="640899"), born=date(1991, 1, 5))
    assert codes(outcome) == ["NIK_KECAMATAN_UNKNOWN", "NIK_BIRTHDATE_MISMATCH"]


# -------------------------------------------------------------------------------------------- other checks


def test_duplicate_person():
    assert domain.duplicate_person(False).status == "passed"
    assert codes(domain.duplicate_person(True)) == ["DUPLICATE_PERSON"]


def test_registry_found():
    assert domain.registry_found(record()).status == "passed"
    assert codes(domain.registry_found(None)) == ["REGISTRY_NOT_FOUND"]


@pytest.mark.parametrize(("status", "expected"), [("HIDUP", []), ("MATI", ["DECEASED"]), ("TIDAK_AKTIF", ["INACTIVE"])])
def test_registry_status(status, expected):
    assert codes(domain.registry_status(record(status=status))) == expected


@pytest.mark.parametrize(
    ("kel_code", "expected"),
    [
        ("64.08.01.2001", []),
        ("64.08.18.1004", []),
        ("64.09.01.2001", ["OUTSIDE_PROGRAMME_REGENCY"]),
        ("64.80.01.2001", ["OUTSIDE_PROGRAMME_REGENCY"]),
        ("65.08.01.2001", ["OUTSIDE_PROGRAMME_REGENCY"]),
        ("6408012001", ["OUTSIDE_PROGRAMME_REGENCY"]),  # not a dotted code: never silently inside
    ],
)
def test_residence_must_be_in_the_programme_regency(kel_code, expected):
    assert codes(domain.residence(record(kel_code=kel_code), "64.08")) == expected


def test_name_match_passes_at_the_threshold_and_fails_below():
    outcome, score = domain.name_match("Siti Aminah", record(full_name="SITI AMINAH"), 80)
    assert outcome.status == "passed" and score == 100
    # (Sutrisno / SUTRISNA, used here before, is now one name by the Javanese a/o rule: issue 16)
    outcome, score = domain.name_match("Bambang Sutrisno", record(full_name="BAMBANG SUTRISNO SANTOSO"), 81.1)
    assert score == 81.1 and outcome.status == "passed"
    outcome, score = domain.name_match("Bambang Sutrisno", record(full_name="BAMBANG SUTRISNO SANTOSO"), 81.2)
    assert codes(outcome) == ["NAME_MISMATCH"]


def test_name_mismatch_detail_gives_the_score_but_no_name():
    outcome, score = domain.name_match("Bambang", record(full_name="NURHAYATI"), 80)
    detail = outcome.findings[0].detail
    assert f"{score:g}" in detail and "80" in detail
    assert "BAMBANG" not in detail.upper() and "NURHAYATI" not in detail.upper()


def test_birth_date_match():
    assert domain.birth_date_match(BORN, record()).status == "passed"
    assert codes(domain.birth_date_match(date(1990, 1, 6), record())) == ["BIRTH_DATE_MISMATCH"]


def test_sex_match_only_flags():
    assert domain.sex_match("F", record()).status == "passed"
    outcome = domain.sex_match("M", record())
    assert outcome.status == "flagged" and codes(outcome) == ["SEX_MISMATCH"]


@pytest.mark.parametrize(
    ("born", "ok"),
    [
        (date(2008, 11, 21), True),  # 18th birthday today
        (date(2008, 11, 22), False),  # 18 tomorrow
        (date(1960, 11, 22), True),  # 65, 66 tomorrow
        (date(1960, 11, 21), False),  # 66 today
    ],
)
def test_age_limits_include_both_ends(born, ok):
    outcome = domain.age_limits(born, ON, POLICY, "registry")
    assert (outcome.status == "passed") is ok
    if not ok:
        assert codes(outcome) == ["AGE_OUT_OF_RANGE"] and "registry" in outcome.findings[0].detail


def test_age_limits_follow_the_policy():
    assert domain.age_limits(date(1955, 1, 1), ON, Policy(max_age=75), "registry").status == "passed"
    assert domain.age_limits(date(2005, 1, 1), ON, Policy(min_age=25), "registry").status == "failed"


def test_age_of_someone_born_on_29_february():
    assert domain.age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert domain.age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18
    assert domain.age_on(date(2008, 2, 29), date(2028, 2, 29)) == 20


def test_the_decision_day_is_the_day_in_kalimantan_timur():
    assert domain.decision_date(datetime(2026, 11, 20, 15, 59, tzinfo=UTC)) == date(2026, 11, 20)
    assert domain.decision_date(datetime(2026, 11, 20, 16, 0, tzinfo=UTC)) == date(2026, 11, 21)


# ------------------------------------------------------------------------------------------------- decide


def test_a_clean_nomination_is_verified_with_the_registry_facts():
    n = nomination()
    decision = run(n)
    assert decision.outcome == "verified" and decision.reasons == () and decision.flags == ()
    assert decision.name_score == 100
    assert {c.status for c in decision.checks} == {"passed"}
    event = domain.decision_event(n, decision)
    assert isinstance(event, IdentityVerified)
    assert event.full_name == "SITI AMINAH" and event.name_score == 100 and event.flags == ()
    assert event.nomination_id == n.nomination_id and event.desa_code == "64.08.01.2001"


def test_flags_do_not_reject_and_travel_with_the_verified_event():
    n = nomination(nik=make_nik(kecamatan="640899"), sex="F")
    rec = record(nik=n.nik, sex="F", full_name="SITI AMINAH BINTI ABDULLAH")
    decision = run(n, rec)
    assert decision.outcome == "verified"
    assert [f.code for f in decision.flags] == ["NIK_KECAMATAN_UNKNOWN"]
    event = domain.decision_event(n, decision)
    assert [f.code for f in event.flags] == ["NIK_KECAMATAN_UNKNOWN"]
    assert event.full_name == "SITI AMINAH BINTI ABDULLAH"


def test_the_verified_event_carries_the_registry_sex_and_flags_the_difference():
    decision = run(nomination(sex="M"))
    assert decision.outcome == "verified"
    assert {f.code for f in decision.flags} == {"SEX_MISMATCH", "NIK_BIRTHDATE_MISMATCH"}
    assert domain.decision_event(nomination(sex="M"), decision).sex == "F"


def test_a_rejection_carries_every_failing_reason():
    n = nomination(full_name="Bambang", birth_date=date(1990, 2, 5))
    rec = record(status="MATI", kel_code="64.09.01.2001", birth_date=date(2010, 1, 5))
    decision = run(n, rec, already_verified=True)
    assert decision.outcome == "rejected"
    assert [r.code for r in decision.reasons] == [
        "DUPLICATE_PERSON",
        "DECEASED",
        "OUTSIDE_PROGRAMME_REGENCY",
        "NAME_MISMATCH",
        "BIRTH_DATE_MISMATCH",
        "AGE_OUT_OF_RANGE",
    ]
    assert [f.code for f in decision.flags] == ["NIK_BIRTHDATE_MISMATCH"]  # the NIK says 5 January
    event = domain.decision_event(n, decision)
    assert isinstance(event, IdentityRejected)
    assert [r.code for r in event.reasons] == [r.code for r in decision.reasons]
    for reason in event.reasons:
        assert n.nik not in reason.detail and "SITI" not in reason.detail.upper()


def test_an_inactive_record_is_rejected():
    assert [r.code for r in run(rec=record(status="TIDAK_AKTIF")).reasons] == ["INACTIVE"]


def test_not_in_the_registry_skips_the_registry_checks_but_still_checks_the_stated_age():
    n = nomination(nik=make_nik(born=date(2010, 1, 5)), birth_date=date(2010, 1, 5))
    decision = decide(n, on=ON, record=None, already_verified=False, regions=REGIONS, policy=POLICY)
    assert [r.code for r in decision.reasons] == ["REGISTRY_NOT_FOUND", "AGE_OUT_OF_RANGE"]
    skipped = {c.check for c in decision.checks if c.status == "skipped"}
    assert skipped == {"registry_status", "residence", "name_match", "birth_date_match", "sex_match"}
    assert decision.name_score is None
    assert "stated" in decision.reasons[-1].detail


def test_an_invalid_nik_is_not_matched_against_the_registry():
    n = nomination(nik="6408013201900001")
    decision = run(n)
    assert [r.code for r in decision.reasons] == ["NIK_INVALID"]
    assert all(c.status == "skipped" for c in decision.checks if c.check.startswith(("registry", "name", "birth")))
    assert decision.record is None and decision.name_score is None


def test_checks_are_recorded_for_explanations():
    decision = run(rec=record(status="MATI"))
    records = [c.record() for c in decision.checks]
    expected = {"layer": "civil_registry", "check": "registry_status", "status": "failed", "codes": ["DECEASED"]}
    assert expected in records
    assert {"layer": "structure", "check": "nik_structure", "status": "passed"} in records
    skipped = decide(nomination(), on=ON, record=None, already_verified=False, regions=REGIONS, policy=POLICY)
    assert {"layer": "civil_registry", "check": "residence", "status": "skipped", "note": "no registry record"} in [
        c.record() for c in skipped.checks
    ]


def test_the_cached_nik_checks_agree_with_stdnum_validate():
    import random

    from stdnum.id import nik as stdnum_nik

    # The date part as stdnum reads it; the place part from the national list (issue 16): a known province passes
    # (an unlisted regency only flags), an unknown province (99) fails. 6501 is Kalimantan Utara, unknown to stdnum.
    rng = random.Random(7)
    places = ["6408", "6411", "3578", "1101", "6404", "6475", "6501", "9999"]
    outcomes = set()
    for _ in range(3000):
        place = rng.choice(places)
        rest = "01" + f"{rng.randint(0, 79):02d}{rng.randint(0, 14):02d}{rng.randint(0, 99):02d}0001"
        valid = stdnum_nik.is_valid("6408" + rest) and place != "9999"
        assert (nik_check(place + rest).status != "failed") is valid, place + rest
        outcomes.add(valid)
    assert outcomes == {True, False}
