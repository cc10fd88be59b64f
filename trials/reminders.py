"""Trial reminders: planning them with the trial, and the job that sends them.

Three reminders per trial (settings):

- ``before_to_lead`` and ``before_to_salesperson``: TRIALS_REMINDER_HOURS_BEFORE hours
  before the lesson starts;
- ``after_to_salesperson``: TRIALS_FOLLOW_UP_MINUTES_AFTER minutes after it ends, to
  record attendance and the result.

Each is a TrialReminder row, sent at most once for its (trial, kind, due time): the
beat job claims a due row with a conditional UPDATE pending → sending while holding
the trial's row lock (the lock ``cancel_trial`` and ``reschedule_trial`` take too),
so two runs at once, a cancelled trial or a moved one cannot send it twice or late.
The e-mail goes out after the claim commits; the row then becomes ``sent``, or on an
error ``pending`` again for a later try, and ``failed`` after
TRIALS_REMINDER_MAX_ATTEMPTS. A row left ``sending`` by a worker that died is marked
failed, not retried: we cannot know whether it went out, and a double is worse.
"""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

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

# A failed send is tried again after this many minutes times the attempts so far.
RETRY_AFTER_MINUTES = 5
# A row still "sending" this long after its claim belongs to a worker that died.
STUCK_SENDING_MINUTES = 15
# Rows one run looks at; the rest wait for the next minute.
BATCH_SIZE = 500

__all__ = [
    "ReminderKind",
    "ReminderRun",
    "cancel_open_reminders",
    "plan_reminders",
    "planned_times",
    "send_due_reminders",
    "send_reminder_email",
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
            trial=trial, kind=kind, due_at=due, defaults={"next_attempt_at": due}
        )
        if not created and reminder.status == ReminderStatus.CANCELLED:
            reminder.status = ReminderStatus.PENDING
            reminder.next_attempt_at = due
            reminder.skip_reason = ""
            reminder.save(
                update_fields=["status", "next_attempt_at", "skip_reason", "updated_at"]
            )


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
    retrying: int = 0
    failed: int = 0


def send_due_reminders(*, now: dt.datetime | None = None) -> ReminderRun:
    """The beat job (every minute): send every pending reminder that is due.

    Safe to run twice at once, or again after a crash: each row is claimed once.
    Must run outside a transaction (a beat task does), so each claim commits before
    its e-mail goes out.
    """
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    outcomes["failed"] += _fail_stuck(now)
    due = (
        TrialReminder.objects.filter(
            status=ReminderStatus.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "trial_id")[:BATCH_SIZE]
    )
    for pk, trial_id in list(due):
        outcomes[_send_one(pk, trial_id, now)] += 1
    run = ReminderRun(
        sent=outcomes["sent"],
        skipped=outcomes["skipped"],
        cancelled=outcomes["cancelled"],
        retrying=outcomes["retrying"],
        failed=outcomes["failed"],
    )
    logger.info(
        "Trial reminders: %s sent, %s skipped, %s cancelled, %s retrying, %s failed",
        run.sent,
        run.skipped,
        run.cancelled,
        run.retrying,
        run.failed,
    )
    return run


def _fail_stuck(now: dt.datetime) -> int:
    return TrialReminder.objects.filter(
        status=ReminderStatus.SENDING,
        claimed_at__lt=now - dt.timedelta(minutes=STUCK_SENDING_MINUTES),
    ).update(
        status=ReminderStatus.FAILED,
        last_error=_(
            "The sender stopped while sending; it is not sent again, so that "
            "nobody gets it twice."
        ),
        updated_at=now,
    )


def _send_one(pk: int, trial_id: int, now: dt.datetime) -> str:
    """Claim, send and record one reminder; returns what happened to it."""
    with transaction.atomic():
        # The trial's lock orders this claim with cancelling and moving the trial.
        trial = (
            Trial.objects.select_for_update(of=("self",))
            .select_related("lead", "salesperson", "group__course", "group__room")
            .filter(pk=trial_id)
            .first()
        )
        reminder = TrialReminder.objects.filter(
            pk=pk, status=ReminderStatus.PENDING, next_attempt_at__lte=now
        ).first()
        if trial is None or reminder is None:
            return "taken"
        closed = _not_wanted(reminder, trial, now)
        if closed is not None:
            status, reason = closed
            _close(pk, status, reason, now)
            return str(status)
        recipient = _recipient(reminder, trial)
        if not recipient:
            _close(pk, ReminderStatus.SKIPPED, _missing_recipient(reminder, trial), now)
            return "skipped"
        claimed = TrialReminder.objects.filter(
            pk=pk, status=ReminderStatus.PENDING
        ).update(
            status=ReminderStatus.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            recipient=recipient,
            updated_at=now,
        )
        if claimed != 1:
            return "taken"
    reminder.refresh_from_db()
    try:
        send_reminder_email(reminder, trial, recipient)
    except Exception as exc:  # any transport error: recorded, retried, then failed
        logger.warning("Trial reminder %s not sent: %s", pk, exc)
        return _record_failure(reminder, exc)
    TrialReminder.objects.filter(pk=pk, status=ReminderStatus.SENDING).update(
        status=ReminderStatus.SENT,
        sent_at=timezone.now(),
        last_error="",
        updated_at=timezone.now(),
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


def _recipient(reminder: TrialReminder, trial: Trial) -> str:
    if reminder.kind == ReminderKind.BEFORE_TO_LEAD:
        return trial.lead.email
    return trial.salesperson.email if trial.salesperson else ""


def _missing_recipient(reminder: TrialReminder, trial: Trial) -> str:
    if reminder.kind == ReminderKind.BEFORE_TO_LEAD:
        return _("The lead has no email address.")
    if trial.salesperson_id is None:
        return _("The trial has no salesperson.")
    return _("The salesperson has no email address.")


def _close(pk: int, status: str, reason: str, now: dt.datetime) -> None:
    TrialReminder.objects.filter(pk=pk, status=ReminderStatus.PENDING).update(
        status=status, skip_reason=reason, updated_at=now
    )


def _record_failure(reminder: TrialReminder, exc: Exception) -> str:
    now = timezone.now()
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if reminder.attempts >= settings.TRIALS_REMINDER_MAX_ATTEMPTS:
        status, outcome, retry_at = ReminderStatus.FAILED, "failed", None
    else:
        status, outcome = ReminderStatus.PENDING, "retrying"
        retry_at = now + dt.timedelta(minutes=RETRY_AFTER_MINUTES * reminder.attempts)
    updates = {"status": status, "last_error": error, "updated_at": now}
    if retry_at is not None:
        updates["next_attempt_at"] = retry_at
    TrialReminder.objects.filter(pk=reminder.pk, status=ReminderStatus.SENDING).update(
        **updates
    )
    return outcome


def send_reminder_email(reminder: TrialReminder, trial: Trial, recipient: str) -> None:
    """Send one reminder by e-mail; raises when the mail server refuses it.

    The one place that talks to a channel: the communications outbox replaces it.
    """
    start = timezone.localtime(trial.starts_at)
    end = timezone.localtime(trial.ends_at)
    values = {
        "lead": trial.lead,
        "group": trial.group,
        "room": trial.group.room,
        "day": date_format(start.date(), "DATE_FORMAT"),
        "start": time_format(start.time(), "TIME_FORMAT"),
        "end": time_format(end.time(), "TIME_FORMAT"),
        "phone": trial.lead.phone or "—",
        "email": trial.lead.email or "—",
        "business": settings.CRM_BUSINESS_NAME,
        "url": settings.CRM_SITE_URL.rstrip("/") + trial.get_absolute_url(),
    }
    if reminder.kind == ReminderKind.BEFORE_TO_LEAD:
        subject = _("Your trial lesson today at %(start)s") % values
        body = (
            _(
                "Hello %(lead)s,\n\nthis is a reminder of your trial lesson "
                "%(group)s on %(day)s from %(start)s to %(end)s, room %(room)s."
                "\n\nSee you soon,\n%(business)s"
            )
            % values
        )
    elif reminder.kind == ReminderKind.BEFORE_TO_SALESPERSON:
        subject = _("Trial lesson at %(start)s: %(lead)s") % values
        body = (
            _(
                "%(lead)s (%(phone)s, %(email)s) comes to a trial lesson of "
                "%(group)s on %(day)s at %(start)s, room %(room)s.\n"
                "Open the trial: %(url)s"
            )
            % values
        )
    else:
        subject = _("Record the trial of %(lead)s") % values
        body = (
            _(
                "The trial lesson of %(lead)s in %(group)s ended at %(end)s. Record "
                "whether they came and what came of it: %(url)s"
            )
            % values
        )
    send_mail(subject, body, None, [recipient], fail_silently=False)
