"""The layers added to the decision: structure (phone, occupation, letter), fuzzy duplicates, employment, life
events, the shared reason catalogue and how the HTTP registry's answers map to look-up states."""

import uuid
from datetime import date

import pytest

from services.verification import domain
from services.verification.adapters.http import interpret
from services.verification.domain import duplicates, severities
from services.verification.domain.duplicates import KnownPerson, likely_same_person
from shared import reasons
from shared.contracts import IdentityReviewRequested, IdentityVerified, SupportingLetter
from tests.unit.test_verification_domain import BORN, NIK, make_nik, nomination, record, run

OTHER_NIK = make_nik(serial="0777")


def codes(decision: domain.Decision) -> list[str]:
    return [r.code for r in decision.reasons]


# ------------------------------------------------------------------------------------------------ catalogue


def test_every_reason_has_a_severity_a_description_and_bahasa_advice_for_the_official():
    assert {"REGISTRY_NOT_FOUND", "WAGE_EARNER", "REVIEW_REJECTED", "LETTER_MISSING", "POSSIBLE_DUPLICATE"} <= set(
        reasons.REASONS
    )
    for code, entry in reasons.REASONS.items():
        assert entry.code == code and code.isupper()
        assert severities.severity(code) in ("reject", "flag", "review")
        assert entry.description.endswith(".") and entry.fix_id.endswith(".")
        assert 20 < len(entry.fix_id) <= 110  # short enough for an SMS line
    assert reasons.fix_text("NOT_A_CODE").startswith("Data belum")
    with pytest.raises(KeyError):
        reasons.info("NOT_A_CODE")


def test_the_domain_uses_the_shared_catalogue_and_rates_exactly_its_codes():
    assert domain.CATALOGUE is reasons.REASONS
    assert set(severities.SEVERITY) == set(reasons.REASONS)  # a code without a rule, or a rule without a code
    for code in ("DECEASED", "NAME_MISMATCH", "AGE_OUT_OF_RANGE"):
        assert severities.severity(code) == "reject"


# ------------------------------------------------------------------------------------------------ structure


@pytest.mark.parametrize(
    ("number", "ok"),
    [("+6281234567890", True), ("+62215551234", False), ("+6512345678", False), ("08123", False)],
)
def test_the_phone_must_be_an_indonesian_mobile(number, ok):
    decision = run(nomination(phone=number))
    assert ("PHONE_INVALID" not in codes(decision)) is ok


def test_only_informal_occupations_of_the_programme_pass():
    assert codes(run(nomination(occupation="nelayan"))) == []
    assert codes(run(nomination(occupation="karyawan_swasta"))) == ["OCCUPATION_NOT_INFORMAL"]
    narrow = domain.Policy(informal_occupations=frozenset({"karyawan_swasta"}))
    assert codes(run(nomination(occupation="karyawan_swasta"), policy=narrow)) == []


@pytest.mark.parametrize("kind", ["rt", "desa"])
def test_rt_and_desa_nominations_need_their_letter(kind):
    n = nomination(supporting_letter=None)
    n = n.model_copy(update={"nominator": n.nominator.model_copy(update={"type": kind})})
    assert codes(run(n)) == ["LETTER_MISSING"]
    blank = SupportingLetter(number=" ", date=date(2026, 11, 1), issuer="Kepala Desa")
    assert codes(run(n.model_copy(update={"supporting_letter": blank}))) == ["LETTER_MISSING"]


def test_a_disnaker_nomination_needs_no_letter():
    n = nomination(supporting_letter=None)
    n = n.model_copy(update={"nominator": n.nominator.model_copy(update={"type": "disnaker"})})
    decision = run(n)
    assert decision.outcome == "verified"
    letter = next(c for c in decision.checks if c.check == "supporting_letter")
    assert letter.status == "skipped" and "disnaker" in letter.note


def test_every_check_records_its_layer():
    layers = [c.record()["layer"] for c in run().checks]
    assert set(layers) == {"structure", "duplicates", "civil_registry", "employment"}


# ----------------------------------------------------------------------------------------------- employment


def test_an_active_wage_earner_is_not_eligible():
    decision = run(active_wage_earner=True)
    assert decision.outcome == "rejected" and codes(decision) == ["WAGE_EARNER"]


# ----------------------------------------------------------------------------------------- fuzzy duplicates


KK = "6408010101220001"


def known(
    name: str = "SITI AMINAH", born: date = BORN, kk: str | None = KK, desa: str = "64.08.01.2001", nik: str = OTHER_NIK
) -> KnownPerson:
    return KnownPerson(uuid.uuid4(), nik, name, born, kk, desa)


def same(name: str, other: KnownPerson, kk: str | None = "6408010101220001", desa: str = "64.08.01.2001"):
    return likely_same_person(NIK, name, BORN, kk, desa, [other], 90)


def test_another_nik_with_the_same_name_birth_date_and_kk_is_a_probable_duplicate():
    found = same("Hj. Siti Aminah", known(desa="64.08.02.2003"))  # another village proposed her
    assert len(found) == 1 and found[0].same_kk and not found[0].same_desa and found[0].name_score == 100


@pytest.mark.parametrize(
    ("stated", "registered"),
    [
        ("MUHAMMAD YUSUF", "M. YUSUF"),
        ("SOEKARNO", "SUKARNO"),
        ("DJOKO SANTOSO", "JOKO SANTOSO"),
        ("NURHAYATI", "NUR HAYATI"),
        ("SUPARMAN", "SUPARMAN"),  # mononym
    ],
)
def test_indonesian_name_variants_still_match_as_the_same_person(stated, registered):
    assert same(stated, known(name=registered))


def test_what_is_not_a_probable_duplicate():
    assert not same("SITI AMINAH", known(nik=NIK))  # the same NIK is the exact layer's business
    assert not same("SITI AMINAH", known(born=date(1990, 1, 6)))  # another birth date
    assert not same("SITI NURHAYATI", known())  # another name
    assert not same("SITI AMINAH", known(kk="6408010101229999", desa="64.08.02.2003"))  # namesake elsewhere
    assert not same("SITI AMINAH", known(kk=None, desa="64.08.02.2003"), kk=None)  # no KK is no signal


def test_a_probable_duplicate_goes_to_review_not_to_rejection():
    evidence = same("SITI AMINAH", known())
    n = nomination()
    decision = run(n, duplicates=evidence)
    assert decision.outcome == "in_review" and decision.reasons == ()
    assert decision.review_layer == "duplicates"
    event = domain.decision_event(n, decision)
    assert isinstance(event, IdentityReviewRequested)
    assert [r.code for r in event.reasons] == ["POSSIBLE_DUPLICATE"] and event.layer == "duplicates"
    assert NIK not in event.reasons[0].detail and "SITI" not in event.reasons[0].detail.upper()


def test_a_rejection_wins_over_review():
    decision = run(rec=record(status="MATI"), duplicates=same("SITI AMINAH", known()))
    assert decision.outcome == "rejected" and codes(decision) == ["DECEASED"]


def test_the_name_key_is_the_normalised_own_name():
    assert duplicates.name_key("Hj. Siti Aminah binti Abdullah, S.Pd") == "siti aminah"


# ----------------------------------------------------------------------------------------------- NIK doubts


def test_a_nik_birth_date_disagreeing_with_a_confirmed_birth_date_is_verified_with_a_flag():
    n = nomination(nik=make_nik(born=date(1990, 1, 6)))
    decision = run(n, record(nik=n.nik))
    assert decision.outcome == "verified" and [f.code for f in decision.flags] == ["NIK_BIRTHDATE_MISMATCH"]
    assert isinstance(domain.decision_event(n, decision), IdentityVerified)


# ---------------------------------------------------------------------------------------------- life events


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({}, {"status": "MATI"}, ("deceased", None)),
        ({}, {"status": "TIDAK_AKTIF"}, ("inactive", None)),
        ({}, {"kel_code": "64.72.01.1001"}, ("moved_out", "64.72")),
        ({}, {"kel_code": "64.08.02.2001"}, None),  # moved within the regency
        ({}, {}, None),
        ({"status": "MATI"}, {"status": "MATI"}, None),  # already announced by an earlier refresh
        ({"kel_code": "64.72.01.1001"}, {"kel_code": "64.71.01.1001"}, None),  # moved on, already outside
        (None, {"status": "MATI"}, ("deceased", None)),  # verified through the HTTP registry: no old row
        (None, {}, None),
    ],
)
def test_life_events_of_a_registry_refresh(old, new, expected):
    before = record(**old) if old is not None else None
    assert domain.life_event(before, record(**new), "64.08") == expected


# ---------------------------------------------------------------------------------------- HTTP answer texts


def row(**changes: str) -> dict[str, object]:
    fields = {"NIK": NIK, "NO_KK": "6408010101220001", "NAMA_LGKP": "SITI AMINAH", "TGL_LHR": "05-01-1990",
              "JENIS_KLMIN": "PEREMPUAN", "KEL_CODE": "64.08.01.2001", "STATUS": "HIDUP"}  # fmt: skip
    return {"content": [fields | changes]}


@pytest.mark.parametrize(
    ("body", "state"),
    [
        (row(), "match"),
        (row(STATUS="MATI"), "deceased"),
        (row(STATUS="TIDAK_AKTIF"), "inactive"),
        ({"content": [{"RESPON": "Data not found"}]}, "no_match"),
        ({"content": [{"RESPON": "Data Tidak Ditemukan"}]}, "no_match"),
        ({"content": [{"RESPON": "Login failed"}]}, "registry_unavailable"),
        ({"content": [{"RESPON": "IP not allowed"}]}, "registry_unavailable"),
        ({"content": [{"RESPON": "daily quota exhausted"}]}, "registry_unavailable"),
        ({"content": [{"RESPON": "something new"}]}, "registry_unavailable"),
        ({"content": []}, "registry_unavailable"),
        ([1, 2], "registry_unavailable"),
        (row(TGL_LHR="bad"), "registry_unavailable"),
    ],
)
def test_registry_answers_map_to_explicit_states(body, state):
    answer = interpret(body)
    assert answer.state == state
    if state == "match":
        assert answer.record == record(no_kk="6408010101220001")
    if state == "registry_unavailable":
        assert answer.error and NIK not in answer.error
