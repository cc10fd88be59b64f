"""The waitlist of a full group: adding, offering, enrolling now, withdrawing."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Client

from ..models import (
    PLACE_HOLDING_STATUSES,
    Enrollment,
    Group,
    WaitlistEntry,
    WaitlistStatus,
)
from ..selectors import free_places
from .enrolment import promote_waitlist
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
