"""Scheduling operations: groups, enrolment, the waitlist, attendance, occupancy.

Every decision about a group's places (enrolling, leaving, the waitlist, and the trial
lessons of the trials app) is taken holding the group's row lock (:func:`lock_group`),
so racing desks and workers decide one after the other on fresh counts.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Client

from . import bookings
from .models import (
    PLACE_HOLDING_STATUSES,
    RUNNING_GROUP_STATUSES,
    Attendance,
    AttendanceStatus,
    Enrollment,
    EnrollmentStatus,
    Group,
    Room,
    RoomOccupancy,
    WaitlistEntry,
    WaitlistStatus,
    occupancy_percent,
)
from .patterns import DayPattern, first_common_day
from .selectors import enrolled_places, free_places, offered_places, week_start

__all__ = [
    "GroupFull",
    "PlaceChange",
    "accept_waitlist_offer",
    "add_to_waitlist",
    "attendance_problem",
    "change_enrollment_status",
    "enroll_client",
    "leave_enrollment",
    "lock_group",
    "mark_attendance",
    "offer_waitlist_place",
    "pause_enrollment",
    "promote_waitlist",
    "queue_occupancy_refresh",
    "reactivate_enrollment",
    "refresh_room_occupancy",
    "room_clashes",
    "save_group",
    "withdraw_waitlist_entry",
]

OPEN_WAITLIST_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class GroupFull(ValidationError):
    """Every place of the group is taken (or kept for a waitlisted client)."""

    def __init__(self, group: Group):
        self.group = group
        super().__init__(
            _(
                "The group %(group)s is full: all %(capacity)d places are taken. "
                "Put the client on its waitlist instead."
            )
            % {"group": group, "capacity": group.capacity},
            code="group_full",
        )


@dataclass
class PlaceChange:
    """What a service changed (``subject``) and the waitlist entries it promoted
    because a place came free: enrolled, or offered the place (see settings
    ``SCHEDULING_WAITLIST_AUTO_ENROLL``)."""

    subject: object
    promoted: list[WaitlistEntry] = field(default_factory=list)


def lock_group(group_id: int) -> Group:
    """The group re-read under its row lock. Call inside ``transaction.atomic``: every
    capacity decision (enrolment here, trial lessons in the trials app) takes it."""
    return Group.objects.select_for_update().get(pk=group_id)


def _check_running(group: Group) -> None:
    if group.status not in RUNNING_GROUP_STATUSES:
        raise ValidationError(
            _("The group %(group)s is %(status)s: it takes no students.")
            % {"group": group, "status": group.get_status_display().lower()},
            code="group_not_running",
        )


# --- Enrolment ------------------------------------------------------------------------


def _take_place(
    group: Group,
    client_id: int,
    existing: Enrollment | None,
    *,
    by,
    start_date: dt.date | None = None,
) -> Enrollment:
    """Create the client's enrolment, or reactivate the one they left. The caller
    holds the group lock and has checked that a place is free."""
    today = timezone.localdate()
    if existing is not None:
        existing.status = EnrollmentStatus.ACTIVE
        existing.end_date = None
        existing.save(update_fields=["status", "end_date", "updated_at"])
        return existing
    # Nobody is enrolled before the group's first day.
    start = max(start_date or today, group.start_date)
    if start > group.end_date:
        raise ValidationError(
            _("The group %(group)s ends on %(date)s, before the enrolment would start.")
            % {"group": group, "date": group.end_date.isoformat()},
            code="group_ended",
        )
    return Enrollment.objects.create(
        client_id=client_id,
        group=group,
        status=EnrollmentStatus.ACTIVE,
        start_date=start,
        enrolled_by=by,
    )


def _close_entry(entry: WaitlistEntry) -> None:
    entry.status = WaitlistStatus.ENROLLED
    entry.enrolled_at = timezone.now()
    entry.save(update_fields=["status", "enrolled_at", "updated_at"])


def enroll_client(
    client: Client,
    group: Group,
    *,
    by,
    start_date: dt.date | None = None,
    waitlist_if_full: bool = True,
) -> Enrollment | WaitlistEntry:
    """Give ``client`` a place in ``group``, or a waitlist entry when it is full.

    Idempotent: a client who holds a place gets that enrolment back; a client who
    left is reactivated (if there is room); one already waiting keeps their entry, and
    one offered a place takes it. A full group raises GroupFull instead of
    waitlisting when ``waitlist_if_full`` is false. A finished or cancelled group
    refuses (ValidationError). The occupancy grid is refreshed after commit.
    """
    with transaction.atomic():
        locked = lock_group(group.pk)
        existing = Enrollment.objects.filter(group=locked, client=client).first()
        if existing is not None and existing.status in PLACE_HOLDING_STATUSES:
            return existing
        _check_running(locked)
        entry = WaitlistEntry.objects.filter(
            group=locked, client=client, status__in=OPEN_WAITLIST_STATUSES
        ).first()
        holds_offer = entry is not None and entry.status == WaitlistStatus.OFFERED
        if holds_offer or free_places(locked) > 0:
            enrollment = _take_place(
                locked, client.pk, existing, by=by, start_date=start_date
            )
            if entry is not None:
                _close_entry(entry)
            queue_occupancy_refresh([locked.pk])
            return enrollment
        if not waitlist_if_full:
            raise GroupFull(locked)
        if entry is not None:
            return entry
        return WaitlistEntry.objects.create(client=client, group=locked, added_by=by)


def promote_waitlist(group: Group, *, by) -> list[WaitlistEntry]:
    """Give the free places of ``group`` to its waitlist, first come first served.

    With ``SCHEDULING_WAITLIST_AUTO_ENROLL`` (the default) each promoted client is
    enrolled; without it they are offered the place, which is kept for them until
    they accept or withdraw. The caller holds the group lock (see lock_group).
    Returns the promoted entries, with their clients loaded.
    """
    if group.status not in RUNNING_GROUP_STATUSES:
        return []
    places = free_places(group)
    if places <= 0:
        return []
    auto = settings.SCHEDULING_WAITLIST_AUTO_ENROLL
    promoted = []
    waiting = (
        WaitlistEntry.objects.filter(group=group, status=WaitlistStatus.WAITING)
        .select_related("client")
        .order_by("created_at", "pk")
    )
    for entry in waiting:
        if places <= 0:
            break
        existing = Enrollment.objects.filter(
            group=group, client_id=entry.client_id
        ).first()
        if existing is not None and existing.status in PLACE_HOLDING_STATUSES:
            _close_entry(entry)  # enrolled meanwhile: the entry is done, no place used
            continue
        if auto:
            _take_place(group, entry.client_id, existing, by=by)
            _close_entry(entry)
        else:
            entry.status = WaitlistStatus.OFFERED
            entry.offered_at = timezone.now()
            entry.save(update_fields=["status", "offered_at", "updated_at"])
        promoted.append(entry)
        places -= 1
    if promoted:
        queue_occupancy_refresh([group.pk])
    return promoted


def change_enrollment_status(
    enrollment: Enrollment, status: str, *, by, note: str = ""
) -> PlaceChange:
    """Move ``enrollment`` to ``status`` (active, paused or left); a repeat call is
    harmless.

    A paused student keeps their place. Leaving sets the end date (today, at the
    latest) and gives the place to the waitlist (:func:`promote_waitlist`); coming
    back from 'left' needs a free place (GroupFull otherwise) and clears the end date.
    Returns the enrolment and the promoted waitlist entries.
    """
    status = EnrollmentStatus(status)
    with transaction.atomic():
        group = lock_group(enrollment.group_id)
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.status == status:
            return PlaceChange(locked)
        held = locked.status in PLACE_HOLDING_STATUSES
        holds = status in PLACE_HOLDING_STATUSES
        update = ["status", "updated_at"]
        if holds and not held:
            _check_running(group)
            if free_places(group) < 1:
                raise GroupFull(group)
            locked.end_date = None
            update.append("end_date")
        elif held and not holds:
            today = timezone.localdate()
            if locked.end_date is None or locked.end_date > today:
                locked.end_date = max(today, locked.start_date)
                update.append("end_date")
        locked.status = status
        locked.save(update_fields=update)
        promoted = promote_waitlist(group, by=by) if held and not holds else []
        queue_occupancy_refresh([group.pk])
    enrollment.status, enrollment.end_date = locked.status, locked.end_date
    return PlaceChange(locked, promoted)


def pause_enrollment(enrollment: Enrollment, *, by) -> PlaceChange:
    return change_enrollment_status(enrollment, EnrollmentStatus.PAUSED, by=by)


def leave_enrollment(enrollment: Enrollment, *, by) -> PlaceChange:
    return change_enrollment_status(enrollment, EnrollmentStatus.LEFT, by=by)


def reactivate_enrollment(enrollment: Enrollment, *, by) -> PlaceChange:
    return change_enrollment_status(enrollment, EnrollmentStatus.ACTIVE, by=by)


# --- The waitlist ---------------------------------------------------------------------


def _locked_entry(entry: WaitlistEntry) -> tuple[Group, WaitlistEntry]:
    group = lock_group(entry.group_id)
    return group, WaitlistEntry.objects.select_related("client").get(pk=entry.pk)


def accept_waitlist_offer(entry: WaitlistEntry, *, by) -> Enrollment:
    """Enrol the waitlisted client now: into the place offered to them, or into a
    free place (GroupFull when there is none). Idempotent; a withdrawn entry refuses.
    """
    with transaction.atomic():
        group, locked = _locked_entry(entry)
        existing = Enrollment.objects.filter(
            group=group, client_id=locked.client_id
        ).first()
        if locked.status == WaitlistStatus.ENROLLED and existing is not None:
            return existing
        if locked.status == WaitlistStatus.WITHDRAWN:
            raise ValidationError(
                _("%(client)s withdrew from the waitlist.") % {"client": locked.client},
                code="withdrawn",
            )
        if existing is not None and existing.status in PLACE_HOLDING_STATUSES:
            _close_entry(locked)
            return existing
        _check_running(group)
        if locked.status != WaitlistStatus.OFFERED and free_places(group) < 1:
            raise GroupFull(group)
        enrollment = _take_place(group, locked.client_id, existing, by=by)
        _close_entry(locked)
        queue_occupancy_refresh([group.pk])
    entry.status = locked.status
    return enrollment


def add_to_waitlist(
    client: Client, group: Group, *, by, note: str = ""
) -> WaitlistEntry:
    """Put ``client`` on the waitlist of a full group; their open entry if they are on
    it already. Refuses (ValidationError) a client who holds a place, a group that
    takes no students, and a group with a free place (enrol the client instead)."""
    with transaction.atomic():
        locked = lock_group(group.pk)
        entry = WaitlistEntry.objects.filter(
            group=locked, client=client, status__in=OPEN_WAITLIST_STATUSES
        ).first()
        if entry is not None:
            return entry
        if Enrollment.objects.filter(
            group=locked, client=client, status__in=PLACE_HOLDING_STATUSES
        ).exists():
            raise ValidationError(
                _("%(client)s holds a place in %(group)s already.")
                % {"client": client, "group": locked},
                code="enrolled",
            )
        _check_running(locked)
        places = free_places(locked)
        if places > 0:
            raise ValidationError(
                _(
                    "%(group)s has %(count)d free places: enrol the client instead "
                    "of waitlisting them."
                )
                % {"group": locked, "count": places},
                code="not_full",
            )
        return WaitlistEntry.objects.create(
            client=client, group=locked, added_by=by, note=note
        )


def offer_waitlist_place(entry: WaitlistEntry, *, by) -> WaitlistEntry:
    """Keep a free place for a waiting client until they answer; GroupFull when no
    place is free. Offering twice is harmless."""
    with transaction.atomic():
        group, locked = _locked_entry(entry)
        if locked.status == WaitlistStatus.OFFERED:
            return locked
        if locked.status != WaitlistStatus.WAITING:
            raise ValidationError(
                _("Only a waiting client can be offered a place; this entry is %(s)s.")
                % {"s": locked.get_status_display().lower()},
                code="not_waiting",
            )
        _check_running(group)
        if free_places(group) < 1:
            raise GroupFull(group)
        locked.status = WaitlistStatus.OFFERED
        locked.offered_at = timezone.now()
        locked.save(update_fields=["status", "offered_at", "updated_at"])
    entry.status, entry.offered_at = locked.status, locked.offered_at
    return locked


def withdraw_waitlist_entry(entry: WaitlistEntry, *, by) -> PlaceChange:
    """Take the client off the waitlist. A place offered to them goes to the next
    waiting client. Withdrawing twice is harmless; an enrolled entry refuses."""
    with transaction.atomic():
        group, locked = _locked_entry(entry)
        if locked.status == WaitlistStatus.WITHDRAWN:
            return PlaceChange(locked)
        if locked.status == WaitlistStatus.ENROLLED:
            raise ValidationError(
                _("%(client)s is enrolled already; let them leave the group instead.")
                % {"client": locked.client},
                code="enrolled",
            )
        was_offered = locked.status == WaitlistStatus.OFFERED
        locked.status = WaitlistStatus.WITHDRAWN
        locked.save(update_fields=["status", "updated_at"])
        promoted = promote_waitlist(group, by=by) if was_offered else []
    entry.status = locked.status
    return PlaceChange(locked, promoted)


# --- Attendance -----------------------------------------------------------------------


def attendance_problem(
    enrollment: Enrollment, lesson_date: dt.date, status: str
) -> str | None:
    """Why ``status`` cannot be marked for the lesson on ``lesson_date``, or None.

    Shared by :func:`mark_attendance` and the admin forms.
    """
    group = enrollment.group
    if not group.has_lesson_on(lesson_date):
        return _("%(group)s has no lesson on %(date)s.") % {
            "group": group,
            "date": lesson_date.isoformat(),
        }
    if lesson_date < enrollment.start_date or (
        enrollment.end_date is not None and lesson_date > enrollment.end_date
    ):
        return _("%(client)s was not enrolled on %(date)s.") % {
            "client": enrollment.client,
            "date": lesson_date.isoformat(),
        }
    if (
        status != AttendanceStatus.EXCUSED
        and group.lesson_start(lesson_date) > timezone.now()
    ):
        return _(
            "The lesson on %(date)s has not begun; only an excused absence can be "
            "recorded ahead."
        ) % {"date": lesson_date.isoformat()}
    return None


def mark_attendance(
    enrollment: Enrollment, lesson_date: dt.date, status: str, *, by
) -> Attendance:
    """Record whether the student came to the lesson on ``lesson_date``; marking the
    same lesson again replaces the mark (one row per enrolment and lesson).

    The date must be one of the group's lessons within the enrolment's dates.
    Present and absent are for lessons that have begun; an excused absence may be
    recorded ahead. Raises ValidationError otherwise, changing nothing.
    """
    status = AttendanceStatus(status)
    problem = attendance_problem(enrollment, lesson_date, status)
    if problem:
        raise ValidationError(problem, code="invalid_lesson")
    with transaction.atomic():
        attendance, _created = Attendance.objects.update_or_create(
            enrollment=enrollment,
            lesson_date=lesson_date,
            defaults={"status": status, "marked_by": by},
        )
    return attendance


# --- Groups and rooms -----------------------------------------------------------------


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


# --- Room occupancy -------------------------------------------------------------------


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
    from .tasks import refresh_room_occupancy as task

    ids = sorted({int(pk) for pk in group_ids})
    if not ids:
        return
    kwargs = {
        "group_ids": ids,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }
    transaction.on_commit(lambda: task.delay(**kwargs))
