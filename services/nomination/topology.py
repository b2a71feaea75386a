"""What the nomination service consumes and produces (shared/topology.py derives the rest from this)."""

from __future__ import annotations

from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    InboundMessageAnswered,
    InboundMessageReceived,
    LeadReceived,
    NominationSubmitted,
    NotificationFailed,
    NotificationSent,
    ObjectionFiled,
    ObjectionReviewed,
)
from shared.topology import Subscription, Topology

TOPOLOGY = Topology(
    service="nomination",
    subscriptions=(
        Subscription(
            group="progress",
            # one consumer over every progress topic: one transaction per fetched batch, no two transactions of
            # this service locking the same nomination at once (docs/PERFORMANCE.md)
            events=(
                IdentityReviewRequested,
                IdentityVerified,
                IdentityRejected,
                EnrolmentConfirmed,
                EnrolmentWaitlisted,
                NotificationSent,
                NotificationFailed,
                EnrolmentEnded,
                EnrolmentRefused,
                ObjectionReviewed,
            ),
            summary="Follow each nomination through verification, enrolment, notification and objections",
        ),
        Subscription(
            group="inbound",
            events=(InboundMessageReceived,),
            summary="Answer keyword messages (CEK, SANGGAH, DAFTAR) within the self-check's budgets",
        ),
    ),
    produces=(NominationSubmitted, InboundMessageAnswered, ObjectionFiled, LeadReceived),
)
