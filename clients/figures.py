"""The client figures, computed from source rows: one formula for every caller.

``aggregate_sources`` reads appointments and payments for a set of clients in two
grouped queries; ``compute_figures`` turns one client's aggregates into the stored
figures. The per-client refresh (signals) and the nightly reconciliation both go
through these two, so they cannot disagree.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from .models import Client

CENT = Decimal("0.01")

# How much of the projected future spend counts towards lifetime value, by stage.
STAGE_RETENTION = {
    Client.Stage.VIP: Decimal("1"),
    Client.Stage.ACTIVE: Decimal("1"),
    Client.Stage.NEW: Decimal("0.5"),
    Client.Stage.AT_RISK: Decimal("0.25"),
    Client.Stage.CHURNED: Decimal("0"),
    Client.Stage.LEAD: Decimal("0"),
}

MIN_TENURE_MONTHS = 3

# RFM bands: each part scores 0-5; the score is their sum scaled to 0-100. Fixed bands
# (not quantiles) keep one client's score independent of everybody else's rows.
RECENCY_DAYS = (14, 30, 60, 120, 365)  # last visit within → 5, 4, 3, 2, 1
FREQUENCY_VISITS = (1, 3, 6, 12, 24)  # visits in 365 days at least → 1 .. 5
MONETARY_SPENT = (Decimal(1), Decimal(200), Decimal(500), Decimal(1000), Decimal(2000))

FIGURE_FIELDS = (
    "total_visits",
    "first_visit_at",
    "last_visit_at",
    "total_spent",
    "lifetime_value",
    "lifecycle_stage",
    "rfm_score",
)


@dataclass(frozen=True)
class SourceAggregates:
    """Aggregates of one client's rows; datetimes are aware and judged by their day in
    the business time zone (the database returns them in UTC)."""

    visits: int = 0
    first_visit_at: dt.datetime | None = None
    last_visit_at: dt.datetime | None = None
    visits_last_year: int = 0
    spent: Decimal = Decimal("0")
    spent_last_year: Decimal = Decimal("0")
    first_payment_at: dt.datetime | None = None


def aggregate_sources(client_ids, now: dt.datetime) -> dict[int, SourceAggregates]:
    """Aggregates for each of ``client_ids`` (a missing id: no visits, no payments)."""
    from appointments.models import Appointment
    from packages.models import Payment

    year_ago = now - dt.timedelta(days=365)
    visits = (
        Appointment.objects.filter(
            client_id__in=client_ids, status=Appointment.Status.COMPLETED
        )
        .values("client_id")
        .annotate(
            n=Count("id"),
            first=Min("start_at"),
            last=Max("start_at"),
            recent=Count("id", filter=Q(start_at__gte=year_ago)),
        )
    )
    payments = (
        Payment.objects.filter(client_id__in=client_ids)
        .values("client_id")
        .annotate(
            total=Sum("amount"),
            recent=Sum("amount", filter=Q(paid_at__gte=year_ago)),
            first=Min("paid_at"),
        )
    )
    rows: dict[int, dict] = {}
    for row in visits:
        rows.setdefault(row["client_id"], {}).update(
            visits=row["n"],
            first_visit_at=row["first"],
            last_visit_at=row["last"],
            visits_last_year=row["recent"],
        )
    for row in payments:
        rows.setdefault(row["client_id"], {}).update(
            spent=row["total"] or Decimal("0"),
            spent_last_year=row["recent"] or Decimal("0"),
            first_payment_at=row["first"],
        )
    return {client_id: SourceAggregates(**values) for client_id, values in rows.items()}


def lifecycle_stage(agg: SourceAggregates, today: dt.date) -> str:
    """lead: never visited nor paid; new: a first visit or two, or paid but not yet
    visited; VIP: spent or visited above the VIP thresholds; at risk / churned: no visit
    for AT_RISK_DAYS / CHURNED_DAYS; active otherwise. Days since the last visit win
    over VIP: a VIP who stopped coming is at risk."""
    rules = settings.CRM_LIFECYCLE
    if agg.visits == 0:
        return Client.Stage.NEW if agg.spent > 0 else Client.Stage.LEAD
    idle_days = (today - timezone.localdate(agg.last_visit_at)).days
    if idle_days >= rules["CHURNED_DAYS"]:
        return Client.Stage.CHURNED
    if idle_days >= rules["AT_RISK_DAYS"]:
        return Client.Stage.AT_RISK
    if agg.spent >= rules["VIP_MIN_SPENT"] or agg.visits >= rules["VIP_MIN_VISITS"]:
        return Client.Stage.VIP
    if agg.visits <= rules["NEW_MAX_VISITS"]:
        return Client.Stage.NEW
    return Client.Stage.ACTIVE


def lifetime_value(agg: SourceAggregates, stage: str, today: dt.date) -> Decimal:
    """LTV = total spent + monthly spend × horizon months × stage retention.

    Monthly spend is total spent divided by the whole months since the first payment,
    at least MIN_TENURE_MONTHS (a first package is not a monthly habit yet); the
    horizon is CRM_LTV_HORIZON_MONTHS; the weight is STAGE_RETENTION. So a churned
    client's LTV is what they spent; an active client's adds a year of average spend.
    """
    if agg.spent <= 0 or agg.first_payment_at is None:
        return Decimal("0.00")
    first = timezone.localdate(agg.first_payment_at)
    months = max(
        MIN_TENURE_MONTHS, (today.year - first.year) * 12 + today.month - first.month
    )
    monthly = agg.spent / months
    projected = monthly * settings.CRM_LTV_HORIZON_MONTHS * STAGE_RETENTION[stage]
    return (agg.spent + projected).quantize(CENT, rounding=ROUND_HALF_UP)


def _band_up(value, thresholds) -> int:
    """How many thresholds ``value`` reaches: 0 .. len(thresholds)."""
    return sum(1 for threshold in thresholds if value >= threshold)


def rfm_score(agg: SourceAggregates, today: dt.date) -> int:
    recency = 0
    if agg.last_visit_at is not None:
        idle = (today - timezone.localdate(agg.last_visit_at)).days
        recency = sum(1 for limit in RECENCY_DAYS if idle <= limit)
    frequency = _band_up(agg.visits_last_year, FREQUENCY_VISITS)
    monetary = _band_up(agg.spent_last_year, MONETARY_SPENT)
    return round((recency + frequency + monetary) * 100 / 15)


def compute_figures(agg: SourceAggregates, today: dt.date) -> dict:
    stage = lifecycle_stage(agg, today)
    return {
        "total_visits": agg.visits,
        "first_visit_at": agg.first_visit_at,
        "last_visit_at": agg.last_visit_at,
        "total_spent": agg.spent.quantize(CENT),
        "lifetime_value": lifetime_value(agg, stage, today),
        "lifecycle_stage": stage,
        "rfm_score": rfm_score(agg, today),
    }
