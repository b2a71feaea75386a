import uuid
from datetime import date

import pytest

from services.nomination import domain
from services.nomination.domain import InvalidField, Progress, apply
from shared import formats
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityVerified,
    Nominator,
    NotificationSent,
    Reason,
)
from shared.regions import default_regions

NID = uuid.uuid4()
NOMINATOR = Nominator(type="rt", name="Pak RT", region_code="64.08.01.2001")


@pytest.mark.parametrize("nik", ["6408014501900001", "6408010101800002"])
def test_valid_niks_pass(nik):
    assert domain.validate_nik(nik, default_regions()) == nik


@pytest.mark.parametrize(
    "nik",
    [
        "640801450190000",
        "64080145019000012",
        "640801450190000A",
        "9908014501900001",
        "6408013213900001",
        "",
        "0008014501900001",  # no province 00
        "6408014513900001",  # month 13
    ],
)
def test_invalid_niks_are_refused(nik):
    with pytest.raises(InvalidField):
        domain.validate_nik(nik, default_regions())


def test_an_unknown_regency_of_a_known_province_is_accepted_for_verification_to_flag():
    # was refused before issue 16: a NIK keeps the code of a regency that moved (64.04 went to Kalimantan Utara)
    assert domain.validate_nik("6499014501900001", default_regions()) == "6499014501900001"
    assert domain.validate_nik("6404014501900001", default_regions()) == "6404014501900001"


def test_niks_first_issued_in_another_province_are_accepted():
    assert domain.validate_nik("3171011708450001", default_regions())  # Jakarta: workers move to Kaltim


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("081234567890", "+6281234567890"), ("+62 812-3456-7890", "+6281234567890"), ("6285212345678", "+6285212345678")],
)
def test_mobile_numbers_normalise_to_e164(raw, e164):
    assert formats.mobile_number(raw) == e164  # the rule the API applies (shared.formats)


@pytest.mark.parametrize("raw", ["12345", "+6512345678", "0541123456x", "not a phone", "+1 202 555 0143"])
def test_non_indonesian_or_malformed_phones_are_refused(raw):
    with pytest.raises(formats.InvalidFormat):
        formats.mobile_number(raw)


def test_address_must_be_a_desa_inside_its_kecamatan():
    regions = default_regions()
    desa = regions.children("64.08.01")[0].code
    domain.check_address("64.08.01", desa, regions)
    with pytest.raises(InvalidField):
        domain.check_address("64.08.02", desa, regions)
    with pytest.raises(InvalidField):
        domain.check_address("64.08.01", "64.08.01.9999", regions)
    with pytest.raises(InvalidField):
        domain.check_address("64.08", desa, regions)


def test_nominator_area_matches_its_type():
    regions = default_regions()
    desa = regions.children("64.08.01")[0].code
    domain.check_nominator_area("rt", desa, regions)
    domain.check_nominator_area("disnaker", "64.08", regions)
    with pytest.raises(InvalidField):
        domain.check_nominator_area("disnaker", desa, regions)
    with pytest.raises(InvalidField):
        domain.check_nominator_area("desa", "64.08", regions)


def test_only_village_level_nominations_need_a_letter():
    assert domain.letter_required("rt") and domain.letter_required("desa")
    assert not domain.letter_required("disnaker")


def test_birth_date_in_the_future_is_refused():
    domain.check_birth_date(date(1990, 1, 1), date(2026, 11, 21))
    with pytest.raises(InvalidField):
        domain.check_birth_date(date(2027, 1, 1), date(2026, 11, 21))


def verified():
    return IdentityVerified(
        nomination_id=NID,
        nik="6408014501900001",
        full_name="Siti",
        birth_date=date(1990, 1, 5),
        sex="F",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        occupation="petani_pekebun",
        nominator=NOMINATOR,
        programme_regency="64.08",
        name_score=100,
    )


def confirmed():
    return EnrolmentConfirmed(
        nomination_id=NID,
        membership_number="26000000001",
        funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur",
        programme_year=2026,
        coverage_start=date(2026, 12, 1),
        full_name="Siti",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )


def sent(purpose):
    return NotificationSent(
        nomination_id=NID, delivery_id=uuid.uuid4(), purpose=purpose, recipient_role="beneficiary", channel="local"
    )


def test_status_walks_submitted_verified_enrolled_notified():
    progress = Progress()
    assert progress.status == "submitted"
    progress = apply(progress, verified())
    assert progress.status == "verified"
    progress = apply(progress, confirmed())
    assert progress.status == "enrolled" and progress.membership_number == "26000000001"
    progress = apply(progress, sent("enrolment_confirmed"))
    assert progress.status == "notified"


def test_notification_arriving_before_the_outcome_still_ends_notified():
    progress = apply(apply(Progress(), sent("enrolment_confirmed")), verified())
    assert progress.status == "verified"
    assert apply(progress, confirmed()).status == "notified"


def test_a_message_about_another_outcome_does_not_mark_notified():
    progress = apply(apply(Progress(), confirmed()), sent("enrolment_waitlisted"))
    assert progress.status == "enrolled"


def test_late_waitlist_event_never_undoes_a_seat():
    waitlisted = EnrolmentWaitlisted(
        nomination_id=NID,
        programme_year=2026,
        position=4,
        full_name="Siti",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )
    assert apply(apply(Progress(), confirmed()), waitlisted).outcome == "enrolled"
    assert apply(Progress(), waitlisted).status == "waitlisted"


def test_rejection_keeps_its_reasons():
    rejected = IdentityRejected(
        nomination_id=NID,
        reasons=(Reason(code="DECEASED", detail="registry: deceased"),),
        full_name="Siti Aminah",
        nominator=NOMINATOR,
        desa_code="64.08.01.2001",
    )
    progress = apply(Progress(), rejected)
    assert progress.status == "rejected"
    assert progress.reasons[0]["code"] == "DECEASED"
    assert apply(progress, sent("identity_rejected")).status == "notified"


def test_review_then_verified_then_ended():
    from shared.contracts import EnrolmentEnded, IdentityReviewRequested

    review = IdentityReviewRequested(
        nomination_id=NID,
        layer="duplicates",
        reasons=(Reason(code="POSSIBLE_DUPLICATE", detail="x"),),
        desa_code="64.08.01.2001",
    )
    progress = apply(Progress(), review)
    assert progress.status == "in_review"
    progress = apply(apply(progress, verified()), confirmed())
    ended = EnrolmentEnded(
        nomination_id=NID,
        membership_number="26000000001",
        funding_source="APBD-KAB",
        programme_year=2026,
        reason="deceased",
        coverage_end=date(2026, 12, 31),
        full_name="Siti",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )
    progress = apply(progress, ended)
    assert progress.status == "ended" and progress.end_reason == "deceased"
    assert apply(progress, confirmed()).outcome == "ended"  # a redelivered confirmation does not reopen it
    assert apply(progress, sent("enrolment_ended")).status == "notified"


def waitlisted_event():
    return EnrolmentWaitlisted(
        nomination_id=NID,
        programme_year=2026,
        position=1,
        full_name="Siti",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )


def ended_event(reason="deceased"):
    from shared.contracts import EnrolmentEnded

    return EnrolmentEnded(
        nomination_id=NID,
        membership_number="26000000001",
        funding_source="APBD-KAB",
        programme_year=2026,
        reason=reason,
        coverage_end=date(2026, 12, 31),
        full_name="Siti",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )


def rejected_event():
    return IdentityRejected(
        nomination_id=NID,
        reasons=(Reason(code="DECEASED", detail="registry: deceased"),),
        full_name="Siti Aminah",
        nominator=NOMINATOR,
        desa_code="64.08.01.2001",
    )


def test_a_promoted_person_who_was_told_reads_notified():
    # verified, waitlisted, notified, enrolled (promoted), notified: the promotion message reports "enrolled".
    progress = apply(apply(apply(Progress(), verified()), waitlisted_event()), sent("enrolment_waitlisted"))
    assert progress.status == "notified"
    progress = apply(progress, confirmed())
    assert progress.status == "enrolled"
    assert apply(progress, sent("enrolment_promoted")).status == "notified"


def test_a_member_whose_family_was_told_of_the_death_benefit_reads_notified():
    progress = apply(apply(apply(Progress(), verified()), confirmed()), sent("enrolment_confirmed"))
    progress = apply(progress, ended_event("deceased"))
    assert progress.status == "ended"
    assert apply(progress, sent("death_benefit_information")).status == "notified"


@pytest.mark.parametrize("outcome", [confirmed, waitlisted_event, ended_event])
def test_an_outcome_after_a_rejection_is_an_impossible_transition(outcome):
    rejected = apply(Progress(), rejected_event())
    with pytest.raises(domain.ImpossibleTransition):
        apply(rejected, outcome())


def test_a_rejection_after_a_seat_is_an_impossible_transition():
    with pytest.raises(domain.ImpossibleTransition):
        apply(apply(Progress(), confirmed()), rejected_event())


def test_the_same_rejection_again_is_no_contradiction():
    assert apply(apply(Progress(), rejected_event()), rejected_event()).status == "rejected"


def refused_event(code="PU_ACTIVE"):
    from shared.contracts import EnrolmentRefused

    return EnrolmentRefused(
        nomination_id=NID,
        programme_year=2026,
        refusal_code=code,
        refusal_reason="Sudah terdaftar sebagai peserta Penerima Upah",
        full_name="Siti",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )


def test_a_bpjs_refusal_is_the_outcome_and_reads_notified_once_the_nominator_was_told():
    progress = apply(apply(Progress(), verified()), refused_event())
    assert (progress.status, progress.end_reason) == ("refused", "bpjs_refused:PU_ACTIVE")
    assert apply(progress, sent("enrolment_refused")).status == "notified"
    # a message about another outcome does not make it "notified"
    assert apply(progress, sent("enrolment_confirmed")).status == "refused"


def test_a_promoted_person_whose_registration_bpjs_refused_is_refused_not_waitlisted():
    progress = apply(apply(apply(Progress(), verified()), waitlisted_event()), refused_event())
    assert progress.status == "refused"


@pytest.mark.parametrize("first, second", [("refused", "confirmed"), ("confirmed", "refused"), ("refused", "ended"),
                                           ("rejected", "refused"), ("refused", "rejected")])  # fmt: skip
def test_a_refusal_contradicts_cover_and_rejection(first, second):
    events = {"refused": refused_event, "confirmed": confirmed, "ended": ended_event, "rejected": rejected_event}
    with pytest.raises(domain.ImpossibleTransition):
        apply(apply(Progress(), events[first]()), events[second]())
