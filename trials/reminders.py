"""Trial reminders: planning them with the trial, and the job that sends them.

Three reminders per trial (settings):

- ``before_to_lead`` and ``before_to_salesperson``: TRIALS_REMINDER_HOURS_BEFORE hours
  before the lesson starts;
- ``after_to_salesperson``: TRIALS_FOLLOW_UP_MINUTES_AFTER minutes after it ends, to
  record attendance and the result.

Each is a TrialReminder row, sent at most once for its (trial, kind, due time): the
beat job claims a due row under the trial's row lock (the lock ``cancel_trial`` and
``reschedule_trial`` take too) and, in the same transaction, puts its message in the
communications outbox, so two runs at once, a cancelled trial or a moved one cannot
send it twice or late. The outbox delivers it (consent, quiet hours, retries); the
row links to its message, so staff see what went out and when.
"""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from communications.models import Channel, MessageKind

from .models import (
    BEFORE_KINDS,
    ReminderKind,
    ReminderStatus,
    Trial,
    TrialReminder,
    TrialResult,
    TrialStatus,
)

logger = logging.getLogger(__name__)

# Rows one run looks at; the rest wait for the next minute.
BATCH_SIZE = 500

__all__ = [
    "ReminderKind",
    "ReminderRun",
    "cancel_open_reminders",
    "plan_reminders",
    "planned_times",
    "send_due_reminders",
]


# --- planning -----------------------------------------------------------------------


def planned_times(trial: Trial) -> dict[str, dt.datetime]:
    before = trial.starts_at - dt.timedelta(hours=settings.TRIALS_REMINDER_HOURS_BEFORE)
    after = trial.ends_at + dt.timedelta(
        minutes=settings.TRIALS_FOLLOW_UP_MINUTES_AFTER
    )
    return {
        ReminderKind.BEFORE_TO_LEAD: before,
        ReminderKind.BEFORE_TO_SALESPERSON: before,
        ReminderKind.AFTER_TO_SALESPERSON: after,
    }


def plan_reminders(trial: Trial) -> None:
    """Give a scheduled trial one pending reminder per kind, at its current times.

    Called under the trial's lock (by the services, on scheduling and moving). A
    pending row for another time is cancelled ("moved"); a row for this very time is
    kept as it is, sent or not, so the same time is never reminded twice; a row once
    cancelled for this time (moved away and back) waits again. A trial booked less
    than TRIALS_REMINDER_HOURS_BEFORE ahead gets its 'before' reminders at the job's
    next run.
    """
    for kind, due in planned_times(trial).items():
        moved = TrialReminder.objects.filter(
            trial=trial, kind=kind, status=ReminderStatus.PENDING
        ).exclude(due_at=due)
        moved.update(
            status=ReminderStatus.CANCELLED,
            skip_reason=_("The trial moved to %(when)s.") % {"when": _when(due)},
            updated_at=timezone.now(),
        )
        reminder, created = TrialReminder.objects.get_or_create(
            trial=trial, kind=kind, due_at=due
        )
        if not created and reminder.status == ReminderStatus.CANCELLED:
            reminder.status = ReminderStatus.PENDING
            reminder.skip_reason = ""
            reminder.save(update_fields=["status", "skip_reason", "updated_at"])


def cancel_open_reminders(trial: Trial, *, reason: str, kinds=None) -> int:
    """Cancel the trial's pending reminders (of ``kinds``, or all); how many."""
    pending = TrialReminder.objects.filter(trial=trial, status=ReminderStatus.PENDING)
    if kinds is not None:
        pending = pending.filter(kind__in=list(kinds))
    return pending.update(
        status=ReminderStatus.CANCELLED, skip_reason=reason, updated_at=timezone.now()
    )


def _when(moment: dt.datetime) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


# --- sending ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderRun:
    sent: int = 0
    skipped: int = 0
    cancelled: int = 0


def send_due_reminders(*, now: dt.datetime | None = None) -> ReminderRun:
    """The beat job (every minute): hand every due reminder to the outbox.

    Each due row is claimed under its trial's lock and, in the same transaction, its
    message is enqueued (communications) and the row marked sent with a link to it:
    the row and the message commit together, and the message's idempotency key
    (kind, recipient, trial, due time) keeps a second run, or a run racing this one,
    from writing another. Delivery, retries and failures are the outbox's.
    """
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    due = (
        TrialReminder.objects.filter(status=ReminderStatus.PENDING, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", "trial_id")[:BATCH_SIZE]
    )
    for pk, trial_id in list(due):
        outcomes[_send_one(pk, trial_id, now)] += 1
    run = ReminderRun(
        sent=outcomes["sent"],
        skipped=outcomes["skipped"],
        cancelled=outcomes["cancelled"],
    )
    logger.info(
        "Trial reminders: %s handed to the outbox, %s skipped, %s cancelled",
        run.sent,
        run.skipped,
        run.cancelled,
    )
    return run


def _send_one(pk: int, trial_id: int, now: dt.datetime) -> str:
    """Claim one reminder and enqueue its message; returns what happened to it."""
    from communications.services import enqueue_message

    with transaction.atomic():
        # The trial's lock orders this claim with cancelling and moving the trial.
        trial = (
            Trial.objects.select_for_update(of=("self",))
            .select_related("lead", "salesperson", "group__course", "group__room")
            .filter(pk=trial_id)
            .first()
        )
        reminder = TrialReminder.objects.filter(
            pk=pk, status=ReminderStatus.PENDING, due_at__lte=now
        ).first()
        if trial is None or reminder is None:
            return "taken"
        closed = _not_wanted(reminder, trial, now)
        if closed is None:
            closed = _no_address(reminder, trial)
        if closed is not None:
            status, reason = closed
            _close(pk, status, reason, now)
            return str(status)
        message = enqueue_message(
            MessageKind.TRIAL_REMINDER
            if reminder.kind in BEFORE_KINDS
            else MessageKind.TRIAL_FOLLOW_UP,
            channel=_channel(reminder, trial),
            about=trial,
            # The due time tells a moved trial's new reminder from the one sent.
            period=reminder.due_at.isoformat(),
            context={
                "url": settings.CRM_SITE_URL.rstrip("/") + trial.get_absolute_url()
            },
            **_recipient(reminder, trial),
        )
        TrialReminder.objects.filter(pk=pk, status=ReminderStatus.PENDING).update(
            status=ReminderStatus.SENT,
            sent_at=now,
            message=message,
            recipient=message.to_address,
            updated_at=now,
        )
    return "sent"


def _not_wanted(
    reminder: TrialReminder, trial: Trial, now: dt.datetime
) -> tuple[str, str] | None:
    """(status, reason) when this reminder must not go out any more, else None."""
    if trial.status == TrialStatus.CANCELLED:
        return ReminderStatus.CANCELLED, _("The trial was cancelled.")
    if reminder.kind in BEFORE_KINDS:
        if trial.status != TrialStatus.SCHEDULED:
            return ReminderStatus.CANCELLED, _("Attendance was already recorded.")
        if trial.starts_at <= now:
            return ReminderStatus.SKIPPED, _(
                "The lesson had started before the reminder could go out."
            )
        return None
    if trial.status == TrialStatus.NO_SHOW or (
        trial.status == TrialStatus.ATTENDED and trial.result != TrialResult.PENDING
    ):
        return ReminderStatus.CANCELLED, _(
            "Attendance and result were already recorded."
        )
    return None


def _recipient(reminder: TrialReminder, trial: Trial) -> dict:
    if reminder.kind == ReminderKind.BEFORE_TO_LEAD:
        return {"lead": trial.lead}
    return {"user": trial.salesperson}


def _channel(reminder: TrialReminder, trial: Trial) -> str:
    """E-mail, or a text message for a lead who left only a phone number."""
    if reminder.kind == ReminderKind.BEFORE_TO_LEAD and not trial.lead.email:
        return Channel.SMS
    return Channel.EMAIL


def _no_address(reminder: TrialReminder, trial: Trial) -> tuple[str, str] | None:
    if reminder.kind == ReminderKind.BEFORE_TO_LEAD:
        return None  # a lead always has a phone or an email (lead_has_phone_or_email)
    if trial.salesperson_id is None:
        return ReminderStatus.SKIPPED, _("The trial has no salesperson.")
    if not trial.salesperson.email:
        return ReminderStatus.SKIPPED, _("The salesperson has no email address.")
    return None


def _close(pk: int, status: str, reason: str, now: dt.datetime) -> None:
    TrialReminder.objects.filter(pk=pk, status=ReminderStatus.PENDING).update(
        status=status, skip_reason=reason, updated_at=now
    )
