"""Groups and their rooms: clash detection and the validated save."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import (
    RUNNING_GROUP_STATUSES,
    Group,
    Room,
)
from ..patterns import DayPattern, first_common_day
from ..selectors import enrolled_places, offered_places
from .enrolment import promote_waitlist
from .occupancy import queue_occupancy_refresh
from .places import (
    PlaceChange,
    lock_group,
)


def _pattern(group: Group) -> tuple[str, frozenset[int] | None]:
    if group.day_pattern == DayPattern.CUSTOM:
        return group.day_pattern, group.weekday_numbers()
    return group.day_pattern, None


def room_clashes(group: Group) -> list[tuple[Group, dt.date]]:
    """The running groups that share a lesson with ``group`` in its room: each with
    the first date both meet at overlapping times, earliest first.

    Times that only touch (one ends at 19:00, the next starts at 19:00) do not clash.
    Candidates are narrowed in SQL (same room, overlapping times and dates); the
    common date is found by walking the two patterns over the shared dates.
    """
    needed = (
        group.room_id,
        group.start_time,
        group.end_time,
        group.start_date,
        group.end_date,
        group.day_pattern,
    )
    if any(value is None or value == "" for value in needed):
        return []
    if group.status not in RUNNING_GROUP_STATUSES:
        return []
    try:
        mine = _pattern(group)
    except ValueError:
        return []  # malformed weekdays: the form reports them
    others = (
        Group.objects.running()
        .filter(
            room_id=group.room_id,
            start_time__lt=group.end_time,
            end_time__gt=group.start_time,
            start_date__lte=group.end_date,
            end_date__gte=group.start_date,
        )
        .select_related("course", "room")
        .order_by("pk")
    )
    if group.pk:
        others = others.exclude(pk=group.pk)
    clashes = []
    for other in others:
        day = first_common_day(
            mine,
            _pattern(other),
            max(group.start_date, other.start_date),
            min(group.end_date, other.end_date),
        )
        if day is not None:
            clashes.append((other, day))
    clashes.sort(key=lambda clash: (clash[1], clash[0].start_time))
    return clashes


def clash_message(group: Group, other: Group, day: dt.date) -> str:
    return _(
        "Room %(room)s already holds group %(group)s on %(date)s at %(start)s–%(end)s."
    ) % {
        "room": other.room,
        "group": other,
        "date": day.isoformat(),
        "start": other.start_time.strftime("%H:%M"),
        "end": other.end_time.strftime("%H:%M"),
    }


def save_group(group: Group, *, by) -> PlaceChange:
    """Validate and save ``group`` (new or edited).

    Refuses, with field errors: what the model's validation refuses (times, dates,
    capacity above the room's, custom weekdays), a lesson clashing with another group
    in the room, and a capacity below the places already held. The room row is
    locked so that two groups cannot take the same slot at once. More places (or a
    group starting to run) go to the waitlist; the occupancy grid is refreshed after
    commit. Returns the group and the promoted waitlist entries.
    """
    with transaction.atomic():
        old = lock_group(group.pk) if group.pk else None
        if group.room_id:
            Room.objects.select_for_update().filter(pk=group.room_id).first()
        group.full_clean()
        clashes = room_clashes(group)
        if clashes:
            raise ValidationError(
                {"room": [clash_message(group, *clashes[0])]}, code="room_clash"
            )
        if old is not None:
            held = enrolled_places(old) + offered_places(old)
            if group.capacity < held:
                raise ValidationError(
                    {
                        "capacity": [
                            _(
                                "%(count)d places are held (enrolled students and "
                                "open offers); the capacity cannot be lower."
                            )
                            % {"count": held}
                        ]
                    },
                    code="capacity_below_enrolled",
                )
        group.save()
        promoted = []
        if old is None or group.capacity > old.capacity or old.status != group.status:
            promoted = promote_waitlist(group, by=by)
        queue_occupancy_refresh([group.pk])
    return PlaceChange(group, promoted)
