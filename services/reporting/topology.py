"""What the reporting service consumes and produces (shared/topology.py derives the rest from this)."""

from __future__ import annotations

from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    NotificationFailed,
    NotificationSent,
    ObjectionFiled,
    ObjectionReviewed,
    QuotaShortfallForecast,
)
from shared.topology import Subscription, Topology

TOPOLOGY = Topology(
    service="reporting",
    subscriptions=(
        Subscription(
            group="events",
            # the read model behind the dashboard (dead letters are counted from Kafka offsets, not consumed)
            events=(
                NominationSubmitted,
                IdentityReviewRequested,
                IdentityVerified,
                IdentityRejected,
                EnrolmentConfirmed,
                EnrolmentWaitlisted,
                EnrolmentEnded,
                EnrolmentRefused,
                NotificationSent,
                NotificationFailed,
                ObjectionFiled,
                ObjectionReviewed,
            ),
            summary="Count every step per region, funding source and reason (and objections by reason, state and"
            " age) for the dashboard and exports",
        ),
    ),
    produces=(QuotaShortfallForecast,),
)
