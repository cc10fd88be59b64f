"""Read queries the services, the admin and the dashboard share."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from . import bookings
from .models import (
    PLACE_HOLDING_STATUSES,
    Attendance,
    AttendanceStatus,
    Enrollment,
    Group,
    Room,
    RoomOccupancy,
    WaitlistEntry,
    WaitlistStatus,
    occupancy_colour,
    occupancy_percent,
)

# How far back the dashboard looks for places filled or offered from a waitlist.
RECENT_PROMOTION_DAYS = 7


def enrolled_places(group: Group) -> int:
    """Places held by enrolments: active and paused students (a paused one returns)."""
    return Enrollment.objects.filter(
        group=group, status__in=PLACE_HOLDING_STATUSES
    ).count()


def offered_places(group: Group) -> int:
    """Places kept for waitlisted clients who were offered one and have not answered."""
    return WaitlistEntry.objects.filter(
        group=group, status=WaitlistStatus.OFFERED
    ).count()


def free_places(group: Group) -> int:
    """Places a new student may take now: capacity less enrolments and open offers."""
    return max(0, group.capacity - enrolled_places(group) - offered_places(group))


def enrolments_on(group: Group, day: dt.date) -> QuerySet:
    """Enrolments holding a place whose dates cover ``day``."""
    return Enrollment.objects.filter(
        group=group,
        status__in=PLACE_HOLDING_STATUSES,
        start_date__lte=day,
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=day))


def lesson_places_taken(group: Group, day: dt.date) -> int:
    """Places taken at the lesson on ``day``: enrolled students whose enrolment covers
    the day, plus the single-lesson bookings (trial students) other apps register."""
    booked = bookings.lesson_bookings([group.pk], day, day)[(group.pk, day)]
    return enrolments_on(group, day).count() + booked


def with_attendance_counts(queryset: QuerySet) -> QuerySet:
    """Enrolments annotated with ``present_count`` and ``marked_count`` (see
    :func:`attendance_rate`), in the same query."""
    return queryset.annotate(
        present_count=Count(
            "attendance", filter=Q(attendance__status=AttendanceStatus.PRESENT)
        ),
        marked_count=Count(
            "attendance",
            filter=Q(
                attendance__status__in=[
                    AttendanceStatus.PRESENT,
                    AttendanceStatus.ABSENT,
                ]
            ),
        ),
    )


def rate(present: int, marked: int) -> float | None:
    if not marked:
        return None
    return round(100.0 * present / marked, 1)


def attendance_rate(enrollment: Enrollment) -> float | None:
    """Percent of the marked lessons the student was present at.

    Lessons marked present or absent count; excused absences count neither way (the
    school agreed to them), and unmarked lessons are unknown. None when no lesson is
    marked yet.
    """
    counts = Attendance.objects.filter(enrollment=enrollment).aggregate(
        present=Count("pk", filter=Q(status=AttendanceStatus.PRESENT)),
        marked=Count(
            "pk",
            filter=Q(status__in=[AttendanceStatus.PRESENT, AttendanceStatus.ABSENT]),
        ),
    )
    return rate(counts["present"], counts["marked"])


def recent_waitlist_promotions(now: dt.datetime | None = None, *, limit: int = 15):
    """Waitlist entries that got a place lately: open offers first (someone must
    call the client), then the places filled from the waitlist in the last days."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=RECENT_PROMOTION_DAYS)
    return list(
        WaitlistEntry.objects.filter(
            Q(status=WaitlistStatus.OFFERED)
            | Q(status=WaitlistStatus.ENROLLED, enrolled_at__gte=since)
        )
        .select_related("client", "group__course")
        .order_by("-status", "-enrolled_at", "-offered_at", "-pk")[:limit]
    )


# --- The room occupancy grid --------------------------------------------------------


@dataclass
class GridSlot:
    start_time: dt.time
    end_time: dt.time
    group: Group
    taken: int
    capacity: int
    percent: float
    colour: str


@dataclass
class GridRow:
    room: Room
    cells: list[list[GridSlot]] = field(default_factory=list)  # one per day


def week_start(day: dt.date) -> dt.date:
    """The Monday of the ISO week holding ``day``."""
    return day - dt.timedelta(days=day.weekday())


def occupancy_grid(monday: dt.date) -> tuple[list[dt.date], list[GridRow]]:
    """Rooms × the seven days from ``monday``: each cell lists the room's lesson slots
    that day, from the stored RoomOccupancy rows. Two queries, whatever the number of
    rooms and slots."""
    days = [monday + dt.timedelta(days=i) for i in range(7)]
    slots = (
        RoomOccupancy.objects.filter(date__range=(days[0], days[-1]))
        .select_related("group__course")
        .order_by("date", "start_time", "group__name")
    )
    by_room: dict[int, dict[dt.date, list[GridSlot]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in slots:
        percent = float(row.percent)
        by_room[row.room_id][row.date].append(
            GridSlot(
                start_time=row.start_time,
                end_time=row.end_time,
                group=row.group,
                taken=row.taken,
                capacity=row.capacity,
                percent=percent,
                colour=occupancy_colour(percent, full=row.taken >= row.capacity),
            )
        )
    rooms = Room.objects.filter(Q(is_active=True) | Q(pk__in=list(by_room))).order_by(
        "name"
    )
    grid = [
        GridRow(room=room, cells=[by_room[room.pk][day] for day in days])
        for room in rooms
    ]
    return days, grid


def group_fill(taken: int, capacity: int) -> tuple[float, str]:
    """Percent and colour of a group holding ``taken`` of ``capacity`` places."""
    percent = occupancy_percent(taken, capacity)
    return percent, occupancy_colour(percent, full=taken >= capacity)
