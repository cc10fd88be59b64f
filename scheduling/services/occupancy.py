"""Room occupancy rows: the idempotent rebuild and its after-commit queueing."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import bookings
from ..models import (
    PLACE_HOLDING_STATUSES,
    Enrollment,
    Group,
    RoomOccupancy,
    occupancy_percent,
)
from ..selectors import week_start


def occupancy_window(
    start: dt.date | None = None, end: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """[start, end]: by default ``SCHEDULING_OCCUPANCY_WEEKS`` weeks from the Monday of
    this week, so that the grid's current week is complete."""
    start = start or week_start(timezone.localdate())
    if end is None:
        end = start + dt.timedelta(days=7 * settings.SCHEDULING_OCCUPANCY_WEEKS - 1)
    return start, end


def refresh_room_occupancy(
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    group_ids=None,
    room_ids=None,
) -> int:
    """Rebuild the RoomOccupancy rows in [start, end] (by default this week and the
    next, ``SCHEDULING_OCCUPANCY_WEEKS`` in all), for the given groups and rooms or
    all.

    One row per running group's lesson: its places taken are the enrolments holding a
    place that cover the date plus the lesson's bookings (trial students). Rows
    upsert on their slot and stale ones (a group moved, retimed, finished) are
    deleted, so running it again, or twice at once, leaves the same rows. Returns the
    number of rows written.
    """
    start, end = occupancy_window(start, end)
    groups = Group.objects.running().filter(start_date__lte=end, end_date__gte=start)
    scope = RoomOccupancy.objects.filter(date__range=(start, end))
    if group_ids is not None:
        group_ids = list(group_ids)
        groups = groups.filter(pk__in=group_ids)
        scope = scope.filter(group_id__in=group_ids)
    if room_ids is not None:
        room_ids = list(room_ids)
        groups = groups.filter(room_id__in=room_ids)
        scope = scope.filter(room_id__in=room_ids)
    groups = list(groups)
    ids = [g.pk for g in groups]
    spans: dict[int, list[tuple[dt.date, dt.date | None]]] = {pk: [] for pk in ids}
    enrolments = (
        Enrollment.objects.filter(
            group_id__in=ids, status__in=PLACE_HOLDING_STATUSES, start_date__lte=end
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=start))
        .values_list("group_id", "start_date", "end_date")
    )
    for group_id, first, last in enrolments:
        spans[group_id].append((first, last))
    booked = bookings.lesson_bookings(ids, start, end)
    rows = []
    for group in groups:
        for day in group.lesson_dates(start, end):
            enrolled = sum(
                1
                for first, last in spans[group.pk]
                if first <= day and (last is None or last >= day)
            )
            taken = enrolled + booked[(group.pk, day)]
            rows.append(
                RoomOccupancy(
                    room_id=group.room_id,
                    date=day,
                    start_time=group.start_time,
                    end_time=group.end_time,
                    group=group,
                    capacity=group.capacity,
                    taken=taken,
                    percent=Decimal(
                        str(min(occupancy_percent(taken, group.capacity), 9999.9))
                    ),
                )
            )
    keys = {(r.room_id, r.date, r.start_time, r.group_id) for r in rows}
    with transaction.atomic():
        stale = [
            pk
            for pk, *key in scope.values_list(
                "pk", "room_id", "date", "start_time", "group_id"
            )
            if tuple(key) not in keys
        ]
        if stale:
            RoomOccupancy.objects.filter(pk__in=stale).delete()
        if rows:
            RoomOccupancy.objects.bulk_create(
                rows,
                batch_size=500,
                update_conflicts=True,
                unique_fields=["room", "date", "start_time", "group"],
                update_fields=[
                    "end_time",
                    "capacity",
                    "taken",
                    "percent",
                    "refreshed_at",
                ],
            )
    return len(rows)


def queue_occupancy_refresh(
    group_ids, start: dt.date | None = None, end: dt.date | None = None
) -> None:
    """Refresh the groups' occupancy rows in a worker once the transaction commits
    (nothing is queued if it rolls back)."""
    from ..tasks import refresh_room_occupancy as task

    ids = sorted({int(pk) for pk in group_ids})
    if not ids:
        return
    kwargs = {
        "group_ids": ids,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }
    transaction.on_commit(lambda: task.delay(**kwargs))
