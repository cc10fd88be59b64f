"""Trial lesson operations: schedule, move, cancel, attendance and the result.

Every operation locks what it decides on and returns early when its work is already
done, so a repeat call (a double click, a retried task) is harmless. Locks are taken in
one order everywhere: the group (``scheduling.services.lock_group``, on which every
capacity decision serialises), then the trial, then the lead.

The reminders of a trial move with it; they are written by trials.reminders, and sent
by the ``send_due_trial_reminders`` beat job.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from crm_project.status import status_changed, write_status_history
from leads.models import OPEN_STATUSES, Lead, LeadStatus
from leads.services import change_lead_status, convert_lead
from scheduling import selectors as scheduling_selectors
from scheduling import services as scheduling_services
from scheduling.models import RUNNING_GROUP_STATUSES, Group, WaitlistEntry

from . import reminders
from .models import (
    PLACE_HOLDING_STATUSES,
    Trial,
    TrialResult,
    TrialStatus,
    TrialStatusHistory,
)

# Lead statuses a newly scheduled trial moves forward to "trial scheduled"; a lead
# that already attended a trial (or was lost and comes back) is moved too.
LEADS_BEFORE_TRIAL = frozenset(
    {
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
        LeadStatus.INTERESTED,
        LeadStatus.TRIAL_ATTENDED,
        LeadStatus.LOST,
    }
)


# --- checks the admin form shares ---------------------------------------------------


def lesson_problems(
    group: Group | None,
    lesson_date: dt.date | None,
    *,
    now: dt.datetime | None = None,
    exclude: Trial | None = None,
) -> dict[str, list[str]]:
    """What makes ``lesson_date`` of ``group`` unbookable, by form field.

    Read without locks: the form shows these early; the services check again under
    the group lock, where a place taken a moment ago is caught. ``exclude`` is a trial
    being moved, whose own place does not count against it.
    """
    problems: dict[str, list[str]] = {}
    if group is None or lesson_date is None:
        return problems
    now = now or timezone.now()
    if group.status not in RUNNING_GROUP_STATUSES:
        problems.setdefault("group", []).append(
            _("The group %(group)s is %(status)s; it takes no trial students.")
            % {"group": group, "status": group.get_status_display().lower()}
        )
        return problems
    if not group.has_lesson_on(lesson_date):
        problems.setdefault("lesson_date", []).append(
            _("%(group)s has no lesson on %(date)s.")
            % {"group": group, "date": _day(lesson_date)}
            + " "
            + _next_lessons_hint(group, lesson_date)
        )
        return problems
    if group.lesson_start(lesson_date) <= now:
        problems.setdefault("lesson_date", []).append(
            _("The lesson on %(date)s has already started; choose a later one.")
            % {"date": _day(lesson_date)}
        )
        return problems
    taken = scheduling_selectors.lesson_places_taken(group, lesson_date)
    if (
        exclude is not None
        and exclude.pk
        and exclude.group_id == group.pk
        and exclude.lesson_date == lesson_date
        and exclude.status in PLACE_HOLDING_STATUSES
    ):
        taken -= 1
    if taken >= group.capacity:
        problems.setdefault("lesson_date", []).append(
            _("The lesson on %(date)s is full (%(taken)d of %(capacity)d places).")
            % {"date": _day(lesson_date), "taken": taken, "capacity": group.capacity}
        )
    return problems


def _day(day: dt.date) -> str:
    return date_format(day, "DATE_FORMAT")


def _next_lessons_hint(group: Group, after: dt.date) -> str:
    dates = group.lesson_dates(after, after + dt.timedelta(days=21))[:3]
    if not dates:
        return _("It has no lessons in the following three weeks.")
    return _("Next lessons: %(dates)s.") % {
        "dates": ", ".join(_day(day) for day in dates)
    }


def _raise(problems: dict[str, list[str]]) -> None:
    if problems:
        raise ValidationError(problems)


# --- scheduling -------------------------------------------------------------------


def schedule_trial(
    lead: Lead,
    group: Group,
    lesson_date: dt.date,
    *,
    salesperson=None,
    by=None,
    notes: str = "",
) -> Trial:
    """Book ``lead`` into the lesson of ``group`` on ``lesson_date``.

    Preconditions (ValidationError otherwise, nothing written): the lead is not a
    client yet, the group is running, has a lesson that day, the lesson is in the
    future and has a free place (enrolled students plus other trials, counted under
    the group lock). Effects: the trial (its salesperson defaults to the lead's),
    its reminders, the lead moved to "trial scheduled", and an occupancy refresh
    after commit. The lead's open trial for the same lesson is returned as it is.
    """
    with transaction.atomic():
        group = scheduling_services.lock_group(group.pk)
        lead = Lead.objects.get(pk=lead.pk)  # the stored status, not a stale copy
        if lead.status == LeadStatus.CONVERTED:
            raise ValidationError(
                {
                    "lead": _(
                        "This lead is already a client; enrol them in the group "
                        "instead."
                    )
                }
            )
        existing = Trial.objects.filter(
            lead=lead,
            group=group,
            lesson_date=lesson_date,
            status__in=PLACE_HOLDING_STATUSES,
        ).first()
        if existing is not None:
            return existing
        _raise(lesson_problems(group, lesson_date))
        trial = Trial(
            lead=lead,
            group=group,
            lesson_date=lesson_date,
            starts_at=group.lesson_start(lesson_date),
            ends_at=group.lesson_end(lesson_date),
            salesperson=salesperson or lead.assigned_to or by,
            notes=notes,
            booked_by=by,
        )
        trial.mark_status_change(by=by, note=_("Scheduled"))
        trial.save()
        reminders.plan_reminders(trial)
        if lead.status in LEADS_BEFORE_TRIAL:
            change_lead_status(
                lead,
                LeadStatus.TRIAL_SCHEDULED,
                by=by,
                note=_("Trial lesson on %(date)s") % {"date": _day(lesson_date)},
            )
        _refresh_occupancy(trial.group_id, lesson_date)
    return trial


def reschedule_trial(
    trial: Trial,
    lesson_date: dt.date,
    *,
    group: Group | None = None,
    by=None,
) -> Trial:
    """Move a scheduled trial to another lesson (of its group, or of ``group``).

    The same checks as scheduling, under the new group's lock; the trial's own place
    does not count against it. Its reminders move with it: pending ones are cancelled
    and new ones planned for the new time. A reminder already sent stays as the record
    of what went out; the same kind is sent again only for a different due time (so
    a lead moved from Monday to Thursday hears about Thursday too, and nobody is
    reminded twice of the same time). Moving to the lesson it already has does
    nothing.
    """
    target_id = group.pk if group is not None else trial.group_id
    with transaction.atomic():
        # Both groups' places change: lock them in id order, as everyone does.
        locked = {
            pk: scheduling_services.lock_group(pk)
            for pk in sorted({trial.group_id, target_id})
        }
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        if trial.group_id not in locked:  # moved meanwhile: the caller retries
            raise ValidationError(_("The trial was changed meanwhile; try again."))
        target = locked[target_id]
        if trial.group_id == target.pk and trial.lesson_date == lesson_date:
            return trial
        if trial.status != TrialStatus.SCHEDULED:
            raise ValidationError(
                _("Only a scheduled trial can be moved; this one is %(status)s.")
                % {"status": trial.get_status_display().lower()}
            )
        _raise(lesson_problems(target, lesson_date, exclude=trial))
        if (
            Trial.objects.filter(
                lead_id=trial.lead_id,
                group=target,
                lesson_date=lesson_date,
                status__in=PLACE_HOLDING_STATUSES,
            )
            .exclude(pk=trial.pk)
            .exists()
        ):
            raise ValidationError(
                {"lesson_date": _("The lead already has a trial in that lesson.")}
            )
        old_group_id, old_date = trial.group_id, trial.lesson_date
        trial.group = target
        trial.lesson_date = lesson_date
        trial.starts_at = target.lesson_start(lesson_date)
        trial.ends_at = target.lesson_end(lesson_date)
        trial.save(
            update_fields=["group", "lesson_date", "starts_at", "ends_at", "updated_at"]
        )
        reminders.plan_reminders(trial)
        _refresh_occupancy(old_group_id, old_date)
        _refresh_occupancy(trial.group_id, lesson_date)
    return trial


def cancel_trial(trial: Trial, *, by=None, reason: str = "") -> Trial:
    """Cancel a scheduled trial: its place is freed, its pending reminders are
    cancelled (nothing is sent afterwards), and a lead left with no other scheduled
    trial goes back to "interested". A cancelled trial stays cancelled."""
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        if trial.status == TrialStatus.CANCELLED:
            return trial
        if trial.status != TrialStatus.SCHEDULED:
            raise ValidationError(
                _("A trial that was %(status)s cannot be cancelled.")
                % {"status": trial.get_status_display().lower()}
            )
        _set_status(trial, TrialStatus.CANCELLED, by=by, note=reason)
        reminders.cancel_open_reminders(trial, reason=_("The trial was cancelled."))
        lead = trial.lead
        others = (
            Trial.objects.filter(lead=lead, status=TrialStatus.SCHEDULED)
            .exclude(pk=trial.pk)
            .exists()
        )
        if lead.status == LeadStatus.TRIAL_SCHEDULED and not others:
            change_lead_status(
                lead, LeadStatus.INTERESTED, by=by, note=_("Trial lesson cancelled")
            )
        _refresh_occupancy(trial.group_id, trial.lesson_date)
    return trial


# --- attendance and result -----------------------------------------------------------


def mark_attended(
    trial: Trial, *, by=None, now: dt.datetime | None = None, note: str = ""
) -> Trial:
    """Record that the lead came; the lead moves to "trial attended" (a lead that is
    a client already stays one). Allowed from the lesson's start; a no-show recorded
    by mistake may be corrected."""
    now = now or timezone.now()
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        if trial.status == TrialStatus.ATTENDED:
            return trial
        _check_attendance_can_be_recorded(trial, now)
        _set_status(trial, TrialStatus.ATTENDED, by=by, note=note)
        lead = trial.lead
        if lead.status in OPEN_STATUSES or lead.status == LeadStatus.LOST:
            change_lead_status(
                lead, LeadStatus.TRIAL_ATTENDED, by=by, note=_("Came to the trial")
            )
        _refresh_occupancy(trial.group_id, trial.lesson_date)
    return trial


def mark_no_show(
    trial: Trial, *, by=None, now: dt.datetime | None = None, note: str = ""
) -> Trial:
    """Record that the lead did not come: the place is freed and the salesperson is
    no longer reminded to record attendance. The lead's status is left as it is (the
    salesperson decides whether to book another trial)."""
    now = now or timezone.now()
    with transaction.atomic():
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        if trial.status == TrialStatus.NO_SHOW:
            return trial
        if trial.result != TrialResult.PENDING:
            raise ValidationError(
                _("This trial already has a result; it cannot become a no-show.")
            )
        _check_attendance_can_be_recorded(trial, now)
        _set_status(trial, TrialStatus.NO_SHOW, by=by, note=note)
        reminders.cancel_open_reminders(
            trial, reason=_("Attendance was recorded: a no-show.")
        )
        _refresh_occupancy(trial.group_id, trial.lesson_date)
    return trial


def _check_attendance_can_be_recorded(trial: Trial, now: dt.datetime) -> None:
    if trial.status == TrialStatus.CANCELLED:
        raise ValidationError(_("The trial was cancelled."))
    if trial.starts_at > now:
        raise ValidationError(
            _("The lesson has not started yet (it starts %(when)s).")
            % {
                "when": date_format(
                    timezone.localtime(trial.starts_at), "SHORT_DATETIME_FORMAT"
                )
            }
        )


def record_result(
    trial: Trial, result: str, *, by=None, lost_reason: str = ""
) -> Trial:
    """Record what came of an attended trial.

    - ``sales_offer``: recorded only;
    - ``accepted``: in one transaction the lead is converted into a client
      (leads.services.convert_lead) and enrolled in the trial's group, or put on its
      waitlist when the group is full; ``trial.enrollment`` or
      ``trial.waitlist_entry`` says which. Accepted is final;
    - ``rejected``: the lead is marked lost (``lost_reason``, or a default).

    The same result twice does nothing the second time.
    """
    if result not in TrialResult.values:
        raise ValidationError({"result": _("Unknown result.")})
    with transaction.atomic():
        # The group first (enrolment decides on its places), as everywhere.
        current = Trial.objects.only("group_id").get(pk=trial.pk)
        group = scheduling_services.lock_group(current.group_id)
        trial = Trial.objects.select_for_update().get(pk=trial.pk)
        if trial.result == result:
            return trial
        if trial.status != TrialStatus.ATTENDED:
            raise ValidationError(
                {"result": _("Record the lead's attendance before the result.")}
            )
        if trial.result == TrialResult.ACCEPTED:
            raise ValidationError(
                {
                    "result": _(
                        "The lead accepted and is a client now; keep this result."
                    )
                }
            )
        trial.result = result
        trial.result_at = timezone.now()
        fields = ["result", "result_at", "updated_at"]
        if result == TrialResult.ACCEPTED:
            client = convert_lead(trial.lead, by=by)
            trial.lead.refresh_from_db()
            placed = scheduling_services.enroll_client(
                client,
                group,
                by=by,
                start_date=max(trial.lesson_date, timezone.localdate()),
                waitlist_if_full=True,
            )
            if isinstance(placed, WaitlistEntry):
                trial.waitlist_entry = placed
                fields.append("waitlist_entry")
            else:
                trial.enrollment = placed
                fields.append("enrollment")
        elif result == TrialResult.REJECTED:
            lead = trial.lead
            if lead.status != LeadStatus.CONVERTED:
                change_lead_status(
                    lead,
                    LeadStatus.LOST,
                    by=by,
                    lost_reason=lost_reason or _("Declined after the trial lesson"),
                    note=_("Trial result: rejected"),
                )
        trial.save(update_fields=fields)
        reminders.cancel_open_reminders(
            trial,
            reason=_("The result was recorded."),
            kinds=[reminders.ReminderKind.AFTER_TO_SALESPERSON],
        )
        _refresh_occupancy(trial.group_id, trial.lesson_date)
    return trial


# --- helpers ------------------------------------------------------------------------


def _set_status(trial: Trial, status: str, *, by, note: str = "") -> None:
    trial.status = status
    trial.mark_status_change(by=by, note=note)
    trial.save(update_fields=["status", "updated_at"])


def _refresh_occupancy(group_id: int, day: dt.date) -> None:
    scheduling_services.queue_occupancy_refresh([group_id], day, day)


def record_trial_status_change(trial: Trial, *, created: bool) -> None:
    """After any save: one history row when the status changed (or on creation)."""
    old = status_changed(trial, created=created)
    if old is None:
        return
    write_status_history(trial, TrialStatusHistory, old=old, trial=trial)


def trial_bookings(
    group_ids: list[int], start: dt.date, end: dt.date
) -> dict[tuple[int, dt.date], int]:
    """Places trials hold per (group id, lesson date): the provider registered with
    scheduling.bookings, so the group's capacity counts trial students."""
    rows = (
        Trial.objects.holding_places()
        .filter(group_id__in=group_ids, lesson_date__range=(start, end))
        .values("group_id", "lesson_date")
        .annotate(places=Count("pk"))
        .order_by()
    )
    return {(row["group_id"], row["lesson_date"]): row["places"] for row in rows}
