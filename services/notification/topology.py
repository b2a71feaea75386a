"""What the notification service consumes and produces (shared/topology.py derives the rest from this)."""

from __future__ import annotations

from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    InboundMessageAnswered,
    InboundMessageReceived,
    LeadReceived,
    NotificationFailed,
    NotificationSent,
    ObjectionFiled,
    ObjectionReviewed,
    QuotaShortfallForecast,
)
from shared.topology import Subscription, Topology

TOPOLOGY = Topology(
    service="notification",
    subscriptions=(
        Subscription(
            group="events",
            events=(EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected, EnrolmentEnded, EnrolmentRefused),
            summary="Plan one message per outcome to the person and their nominator (sent by the dispatcher)",
        ),
        Subscription(
            group="forecasts",
            events=(QuotaShortfallForecast,),
            summary="Tell programme admins and the listed desa's officials of a funding source that will not fill",
        ),
        Subscription(
            group="outreach",
            events=(InboundMessageAnswered, ObjectionFiled, ObjectionReviewed, LeadReceived),
            summary="Reply to inbound messages; tell objections to the person and the nominator; leads to officials",
        ),
    ),
    produces=(NotificationSent, NotificationFailed, InboundMessageReceived),
)
