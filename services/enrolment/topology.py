"""What the enrolment service consumes and produces (shared/topology.py derives the rest from this)."""

from __future__ import annotations

from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityVerified,
    ObjectionReviewed,
    RegistryPersonUpdated,
)
from shared.topology import Subscription, Topology

TOPOLOGY = Topology(
    service="enrolment",
    subscriptions=(
        Subscription(
            group="identity.verified",
            events=(IdentityVerified,),
            summary="Seat each verified person against the quota of their funding source, or waitlist them",
        ),
        Subscription(
            group="registry.person_updated",
            events=(RegistryPersonUpdated,),
            summary="End the cover of a member the civil registry reports dead or moved away",
        ),
        Subscription(
            group="objection.reviewed",
            events=(ObjectionReviewed,),
            summary="Give a wrongly ended member their seat back (or a waitlist place ahead) on an upheld objection",
        ),
    ),
    produces=(EnrolmentConfirmed, EnrolmentWaitlisted, EnrolmentEnded, EnrolmentRefused),
)
