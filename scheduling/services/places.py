"""Places in a group: the lock every capacity decision takes, and taking one."""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    RUNNING_GROUP_STATUSES,
    Enrollment,
    EnrollmentStatus,
    Group,
    WaitlistEntry,
    WaitlistStatus,
)

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
