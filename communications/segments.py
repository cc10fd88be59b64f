"""Segments: which clients a saved set of criteria matches.

``segment_clients(segment)`` is one SQL query (the many-to-many criteria are
subqueries over the segment's own join tables, so an unsaved form can be previewed
by passing them explicitly). Every criterion left empty matches everyone; the set
ones all apply. Days since the last visit count calendar days in the business time
zone: a visit at 23:30 yesterday is "1 day ago" however few hours have passed.
"""

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from appointments.models import Appointment
from appointments.models import Status as AppointmentStatus
from clients.models import Client
from packages.models import PackagePurchase

from .models import Segment

SAMPLE_SIZE = 10


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _m2m_condition(segment: Segment, field: str, given, matches) -> Q | None:
    """The Q for a many-to-many criterion, or None when it is not set.

    ``given`` (a form's list, for a preview) is decided here; for a saved segment
    the database decides: "nothing chosen" or ``matches(chosen ids)``.
    """
    if given is not None:
        ids = [getattr(item, "pk", item) for item in given]
        return matches(ids) if ids else None
    if segment.pk is None:
        return None
    relation = Segment._meta.get_field(field)
    rows = relation.remote_field.through.objects.filter(segment_id=segment.pk)
    chosen = rows.values(relation.m2m_reverse_name())
    return ~Q(Exists(rows)) | matches(chosen)


def segment_clients(
    segment: Segment,
    *,
    tags_included=None,
    tags_excluded=None,
    services_used=None,
    today: dt.date | None = None,
) -> QuerySet[Client]:
    """The clients ``segment`` matches, ordered by id: one query when evaluated.

    The many-to-many criteria come from the saved segment unless given (a form's
    cleaned data, for a preview before saving). ``today`` defaults to the business
    time zone's date.
    """
    today = today or timezone.localdate()
    condition = Q()
    if segment.min_visits is not None:
        condition &= Q(total_visits__gte=segment.min_visits)
    if segment.min_spent is not None:
        condition &= Q(total_spent__gte=segment.min_spent)
    if segment.min_days_since_last_visit is not None:
        # Clients who have visited, but not on the last N calendar days.
        since = today - dt.timedelta(days=segment.min_days_since_last_visit - 1)
        condition &= Q(last_visit_at__lt=_local_midnight(since))
    if segment.max_days_since_last_visit is not None:
        since = today - dt.timedelta(days=segment.max_days_since_last_visit)
        condition &= Q(last_visit_at__gte=_local_midnight(since))
    if segment.lifecycle_stages:
        condition &= Q(lifecycle_stage__in=list(segment.lifecycle_stages))
    if segment.min_rfm is not None:
        condition &= Q(rfm_score__gte=segment.min_rfm)
    if segment.max_rfm is not None:
        condition &= Q(rfm_score__lte=segment.max_rfm)
    if segment.birthday_month:
        condition &= Q(birth_date__month=segment.birthday_month)
    if segment.has_active_package is not None:
        active = Exists(
            PackagePurchase.objects.active().filter(client_id=OuterRef("pk"))
        )
        condition &= active if segment.has_active_package else ~active
    client_tags = Client.tags.through.objects

    def with_tags(ids):
        return Q(Exists(client_tags.filter(client_id=OuterRef("pk"), tag_id__in=ids)))

    included = _m2m_condition(segment, "tags_included", tags_included, with_tags)
    if included is not None:
        condition &= included
    excluded = _m2m_condition(
        segment, "tags_excluded", tags_excluded, lambda ids: ~with_tags(ids)
    )
    if excluded is not None:
        condition &= excluded

    def used(ids):
        return Q(
            Exists(
                Appointment.objects.filter(
                    client_id=OuterRef("pk"),
                    status=AppointmentStatus.COMPLETED,
                    service_id__in=ids,
                )
            )
        )

    services = _m2m_condition(segment, "services_used", services_used, used)
    if services is not None:
        condition &= services
    return Client.objects.filter(condition).order_by("pk")


def segment_client_ids(segment: Segment) -> list[int]:
    """The ids of the clients a saved ``segment`` matches now, in id order.

    Its many-to-many criteria are read first (three small queries) and passed in,
    so that the big query carries only the criteria that are set. Asked in SQL, an
    unset criterion ("no tags chosen, or the client has one of them") inflates the
    planner's estimate past PostgreSQL's JIT threshold: 0.2 s of compiling for a
    query that runs in 30 ms over 50,000 clients (a campaign's start).
    """
    criteria = {
        name: list(getattr(segment, name).values_list("pk", flat=True))
        for name in ("tags_included", "tags_excluded", "services_used")
    }
    return list(segment_clients(segment, **criteria).values_list("pk", flat=True))


def segment_count(segment: Segment, **criteria) -> int:
    return segment_clients(segment, **criteria).count()


def segment_sample(segment: Segment, n: int = SAMPLE_SIZE, **criteria) -> list[Client]:
    """Up to ``n`` matching clients, most recent visitors first (a feel for who)."""
    return list(
        segment_clients(segment, **criteria).order_by("-last_visit_at", "-pk")[:n]
    )
