"""What the verification service consumes and produces (shared/topology.py derives the rest from this)."""

from __future__ import annotations

from shared.contracts import (
    EnrolmentEnded,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    ObjectionFiled,
    ObjectionReviewed,
    RegistryPersonUpdated,
)
from shared.topology import Subscription, Topology

TOPOLOGY = Topology(
    service="verification",
    subscriptions=(
        Subscription(
            group="nomination.submitted",
            events=(NominationSubmitted,),
            summary="Decide each submitted nomination layer by layer (structure, duplicates, civil registry)",
        ),
        Subscription(
            group="enrolment.ended",
            events=(EnrolmentEnded,),
            summary="Free the person for a later nomination once their cover ended",
        ),
        Subscription(
            group="objection.filed",
            events=(ObjectionFiled,),
            summary="Put each objection (sanggahan) with its checked evidence in the reviewers' queue",
        ),
    ),
    produces=(IdentityVerified, IdentityRejected, IdentityReviewRequested, RegistryPersonUpdated, ObjectionReviewed),
)
