"""Trial funnel figures: from leads to enrolments, by source and by salesperson.

The funnel follows a cohort: the leads received in a date range (business time zone),
and what became of them through their trials, whenever those took place. Every figure
counts leads, not trials, so each stage is a subset of the one before and a lead
booked twice is one lead. One query per table, whatever the number of rows.
"""

import datetime as dt
from dataclasses import dataclass, fields

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm_project.kpi import kpi_colour
from leads.models import Lead, Source

from .models import (
    OFFER_RESULTS,
    Trial,
    TrialResult,
    TrialStatus,
    overdue_condition,
)

# Trials that were really booked: a cancelled booking never reached the lesson.
BOOKED_STATUSES = (TrialStatus.SCHEDULED, TrialStatus.ATTENDED, TrialStatus.NO_SHOW)

# Annotation names differ from the relation's ("trials"), which they would shadow.
FIGURES = {
    "n_leads": Count("pk", distinct=True),
    "n_trials": Count(
        "pk", distinct=True, filter=Q(trials__status__in=BOOKED_STATUSES)
    ),
    "n_attended": Count(
        "pk", distinct=True, filter=Q(trials__status=TrialStatus.ATTENDED)
    ),
    "n_no_shows": Count(
        "pk", distinct=True, filter=Q(trials__status=TrialStatus.NO_SHOW)
    ),
    "n_offers": Count(
        "pk", distinct=True, filter=Q(trials__result__in=list(OFFER_RESULTS))
    ),
    "n_enrolments": Count(
        "pk",
        distinct=True,
        filter=Q(trials__result=TrialResult.ACCEPTED, trials__enrollment__isnull=False),
    ),
}


def percent(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return round(100.0 * part / whole, 1)


@dataclass(frozen=True)
class FunnelRow:
    """One line of the funnel. Counts are leads of the cohort:

    - ``leads``: received in the range;
    - ``trials``: with at least one trial booked and not cancelled (scheduled,
      attended or no-show);
    - ``attended``: came to at least one trial;
    - ``no_shows``: missed at least one trial (a lead who missed one and came to
      another is in both);
    - ``offers``: got an offer after a trial (result sales offer, accepted or
      rejected);
    - ``enrolments``: accepted and were enrolled in the group (not waitlisted).
    """

    label: str
    leads: int = 0
    trials: int = 0
    attended: int = 0
    no_shows: int = 0
    offers: int = 0
    enrolments: int = 0

    @property
    def booking_percent(self) -> float | None:
        """Leads who booked a trial, of all leads: trials / leads."""
        return percent(self.trials, self.leads)

    @property
    def show_percent(self) -> float | None:
        """Leads who came, of those who booked: attended / trials."""
        return percent(self.attended, self.trials)

    @property
    def close_percent(self) -> float | None:
        """Leads enrolled, of those who came: enrolments / attended."""
        return percent(self.enrolments, self.attended)

    @property
    def conversion_percent(self) -> float | None:
        """Leads enrolled, of all leads: enrolments / leads."""
        return percent(self.enrolments, self.leads)

    def percents(self) -> list[tuple[float | None, str]]:
        """Each percent, in the table's order, with its KPI colour."""
        values = [
            self.booking_percent,
            self.show_percent,
            self.close_percent,
            self.conversion_percent,
        ]
        return [(value, kpi_colour(value)) for value in values]


COUNT_FIELDS = [f.name for f in fields(FunnelRow) if f.name != "label"]
PERCENT_LABELS = [
    _("Booked a trial %"),
    _("Came %"),
    _("Enrolled of those who came %"),
    _("Conversion %"),
]


@dataclass(frozen=True)
class Funnel:
    rows: list[FunnelRow]
    total: FunnelRow


def _cohort(start: dt.date, end: dt.date, salesperson=None):
    zone = timezone.get_default_timezone()
    since = timezone.make_aware(dt.datetime.combine(start, dt.time.min), zone)
    until = timezone.make_aware(
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min), zone
    )
    leads = Lead.objects.filter(received_at__gte=since, received_at__lt=until)
    if salesperson is not None:
        leads = leads.filter(assigned_to=salesperson)
    return leads


def _counts(values: dict) -> dict[str, int]:
    return {name: values[f"n_{name}"] for name in COUNT_FIELDS}


def _total(rows: list[FunnelRow]) -> FunnelRow:
    sums = {name: sum(getattr(row, name) for row in rows) for name in COUNT_FIELDS}
    return FunnelRow(label=str(_("Total")), **sums)


def funnel_by_source(start: dt.date, end: dt.date, *, salesperson=None) -> Funnel:
    """The cohort of [start, end] by lead source (one query); ``salesperson`` limits
    it to the leads assigned to them."""
    labels = dict(Source.choices)
    rows = [
        FunnelRow(
            label=str(labels.get(values["source"], _("Other"))), **_counts(values)
        )
        for values in _cohort(start, end, salesperson)
        .values("source")
        .annotate(**FIGURES)
        .order_by("source")
    ]
    return Funnel(rows=rows, total=_total(rows))


def funnel_by_salesperson(start: dt.date, end: dt.date, *, salesperson=None) -> Funnel:
    """The cohort of [start, end] by the salesperson the lead is assigned to (one
    query); unassigned leads are a row of their own."""
    rows = []
    for values in (
        _cohort(start, end, salesperson)
        .values(
            "assigned_to",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .annotate(**FIGURES)
        .order_by("assigned_to__first_name", "assigned_to__username", "assigned_to")
    ):
        name = " ".join(
            part
            for part in (
                values["assigned_to__first_name"],
                values["assigned_to__last_name"],
            )
            if part
        )
        label = name or values["assigned_to__username"] or str(_("Unassigned"))
        rows.append(FunnelRow(label=label, **_counts(values)))
    return Funnel(rows=rows, total=_total(rows))


# The dashboard lists this many trials; "See all" opens the list.
DASHBOARD_TRIALS_SHOWN = 15


def trials_for_dashboard(user, now: dt.datetime | None = None) -> list:
    """Trials that need someone today: today's scheduled lessons and the overdue
    ones (attendance or result not recorded), the user's own or, for those who see
    every trial, everyone's; earliest first, at most DASHBOARD_TRIALS_SHOWN."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    queryset = Trial.objects.filter(
        Q(lesson_date=today, status=TrialStatus.SCHEDULED) | overdue_condition(now)
    )
    if not (
        user.is_superuser
        or user.has_perm("trials.view_all_trials")
        or user.has_perm("leads.view_all_leads")
    ):
        queryset = queryset.filter(salesperson=user)
    return list(
        queryset.select_related("lead", "group__course", "salesperson").order_by(
            "starts_at", "pk"
        )[:DASHBOARD_TRIALS_SHOWN]
    )
