"""Enrolling, pausing, leaving, and the waitlist promotion a freed place starts."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clients.models import Client

from ..models import (
    PLACE_HOLDING_STATUSES,
    RUNNING_GROUP_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Group,
    WaitlistEntry,
    WaitlistStatus,
)
from ..selectors import free_places
from .occupancy import queue_occupancy_refresh
from .places import (
    OPEN_WAITLIST_STATUSES,
    GroupFull,
    PlaceChange,
    _check_running,
    _close_entry,
    _take_place,
    lock_group,
)


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
