"""Demo courses, rooms and groups for ``seed_demo``: a handful of rows, fast.

The groups show every occupancy colour (green, orange, red, a full group with a
waitlist), odd and even evening groups sharing a room without clashing, a weekend
group on chosen weekdays and a planned group; the running ones have attendance for
their past lessons. Rows are written directly (their rules hold by construction), then
the room occupancy of the coming weeks is built.
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from .models import (
    Attendance,
    AttendanceStatus,
    Course,
    Enrollment,
    Group,
    GroupStatus,
    Room,
    WaitlistEntry,
)
from .patterns import DayPattern
from .services import refresh_room_occupancy

COURSES = (
    ("Yoga basics", "Posture, breathing and balance for beginners.", "95.00", 60),
    ("Pilates", "Core strength on the mat.", "110.00", 60),
    ("Breathwork", "Guided breathing for calm and focus.", "80.00", 60),
)
ROOMS = (
    ("Studio A", 12, "First floor"),
    ("Studio B", 8, "First floor"),
    ("Hall", 20, ""),
)


@dataclass(frozen=True)
class DemoGroup:
    course: str
    name: str
    pattern: str
    weekdays: str
    start: dt.time
    end: dt.time
    room: str
    capacity: int
    enrolled: int
    waiting: int = 0
    planned: bool = False


GROUPS = (
    DemoGroup(
        "Yoga basics",
        "Mornings",
        DayPattern.MON_WED_FRI,
        "",
        dt.time(9),
        dt.time(10),
        "Studio A",
        12,
        5,
    ),
    DemoGroup(
        "Yoga basics",
        "Odd evenings",
        DayPattern.ODD_DAYS,
        "",
        dt.time(18),
        dt.time(19),
        "Studio A",
        12,
        8,
    ),
    DemoGroup(
        "Yoga basics",
        "Even evenings",
        DayPattern.EVEN_DAYS,
        "",
        dt.time(18),
        dt.time(19),
        "Studio A",
        12,
        11,
    ),
    DemoGroup(
        "Pilates",
        "Tuesday & Thursday",
        DayPattern.TUE_THU,
        "",
        dt.time(19),
        dt.time(20),
        "Studio B",
        8,
        8,
        waiting=3,
    ),
    DemoGroup(
        "Pilates",
        "Weekends",
        DayPattern.CUSTOM,
        "6,7",
        dt.time(10),
        dt.time(11),
        "Studio B",
        8,
        3,
    ),
    DemoGroup(
        "Breathwork",
        "Monday nights",
        DayPattern.MON,
        "",
        dt.time(19, 30),
        dt.time(20, 30),
        "Hall",
        20,
        4,
        planned=True,
    ),
)

ATTENDANCE_WEIGHTS = (
    (AttendanceStatus.PRESENT, 80),
    (AttendanceStatus.ABSENT, 12),
    (AttendanceStatus.EXCUSED, 8),
)


def seed_scheduling(
    client_ids: list[int],
    teacher_ids: list[int],
    *,
    today: dt.date,
    rng: random.Random,
) -> dict[str, int]:
    """Add the demo courses, rooms and groups with enrolments, a waitlist and past
    attendance, unless courses exist already. Returns rows written, by table."""
    if Course.objects.exists() or not client_ids:
        return {}
    counts: dict[str, int] = {}
    with transaction.atomic():
        courses = {}
        for i, (name, description, price, minutes) in enumerate(COURSES):
            courses[name] = Course.objects.create(
                name=name,
                description=description,
                price=Decimal(price),
                lesson_minutes=minutes,
                teacher_id=teacher_ids[i % len(teacher_ids)] if teacher_ids else None,
            )
        rooms = {
            name: Room.objects.create(name=name, capacity=capacity, location=location)
            for name, capacity, location in ROOMS
        }
        pool = rng.sample(client_ids, min(len(client_ids), 60))
        enrolments, waitlist, attendance = [], [], []
        for i, spec in enumerate(GROUPS):
            start = today + dt.timedelta(days=14 if spec.planned else -56)
            group = Group.objects.create(
                course=courses[spec.course],
                name=spec.name,
                day_pattern=spec.pattern,
                weekdays=spec.weekdays,
                start_time=spec.start,
                end_time=spec.end,
                room=rooms[spec.room],
                teacher_id=courses[spec.course].teacher_id,
                capacity=spec.capacity,
                start_date=start,
                end_date=start + dt.timedelta(days=26 * 7),
                status=GroupStatus.PLANNED if spec.planned else GroupStatus.ACTIVE,
            )
            members = [pool[(i * 9 + k) % len(pool)] for k in range(spec.enrolled)]
            members = list(dict.fromkeys(members))  # few clients: no duplicates
            for client_id in members:
                enrolments.append(
                    Enrollment(client_id=client_id, group=group, start_date=start)
                )
            for k in range(spec.waiting):
                client_id = pool[(i * 9 + spec.enrolled + k) % len(pool)]
                if client_id not in members:
                    waitlist.append(WaitlistEntry(client_id=client_id, group=group))
        Enrollment.objects.bulk_create(enrolments)
        WaitlistEntry.objects.bulk_create(waitlist)
        # Read back: not every database returns the ids of a bulk insert.
        enrolments = list(Enrollment.objects.filter(group__course__in=courses.values()))
        statuses = [s for s, _w in ATTENDANCE_WEIGHTS]
        weights = [w for _s, w in ATTENDANCE_WEIGHTS]
        groups = {g.pk: g for g in Group.objects.filter(status=GroupStatus.ACTIVE)}
        for enrollment in enrolments:
            group = groups.get(enrollment.group_id)
            if group is None:
                continue
            for day in group.lesson_dates(
                enrollment.start_date, today - dt.timedelta(days=1)
            ):
                attendance.append(
                    Attendance(
                        enrollment=enrollment,
                        lesson_date=day,
                        status=rng.choices(statuses, weights)[0],
                    )
                )
        Attendance.objects.bulk_create(attendance, batch_size=1000)
        counts = {
            "scheduling_course": len(courses),
            "scheduling_room": len(rooms),
            "scheduling_group": len(GROUPS),
            "scheduling_enrollment": len(enrolments),
            "scheduling_waitlistentry": len(waitlist),
            "scheduling_attendance": len(attendance),
        }
    counts["scheduling_roomoccupancy"] = refresh_room_occupancy()
    return counts
