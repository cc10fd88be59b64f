"""Follow-ups: scheduling and completing them, and the beat job that opens missed
first contacts, marks follow-ups overdue, reminds and escalates."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import OPEN_STATUSES, Lead, LeadFollowUp, LeadStatus

# The name these log lines had before services became a package.
logger = logging.getLogger("leads.services")
User = get_user_model()


def open_missed_first_contacts(*, now: dt.datetime | None = None) -> int:
    """A "First contact" follow-up for each new lead whose deadline has passed.

    A lead's first-contact deadline is ``first_contact_due_at``: the lead list shows
    it and filters on it. A follow-up is written only once the deadline is missed,
    so the overdue machinery (reminders, escalation) takes over; a lead contacted in
    time never needs one, and intake (an import of thousands) writes none. One set-
    based statement; the partial unique index keeps it to one row per lead also
    when two runs overlap. Returns how many were opened.
    """
    now = now or timezone.now()
    qn = connection.ops.quote_name
    follow_ups = qn(LeadFollowUp._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        # Identifiers are our own table names; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {follow_ups} (lead_id, due_at, note, status, "  # noqa: S608
            "assigned_to_id, reminder_count, first_contact, created_at, updated_at) "
            "SELECT new.id, new.first_contact_due_at, %s, %s, new.assigned_to_id, "
            "0, %s, %s, %s "
            f"FROM {qn(Lead._meta.db_table)} new "
            "WHERE new.status = %s AND new.first_contact_due_at < %s "
            f"AND NOT EXISTS (SELECT 1 FROM {follow_ups} earlier "
            "WHERE earlier.lead_id = new.id AND earlier.first_contact = %s) "
            # One order for every run, so two at once cannot deadlock.
            "ORDER BY new.id ON CONFLICT DO NOTHING",
            [
                _("First contact"),
                LeadFollowUp.Status.PENDING.value,
                True,
                adapt(now),
                adapt(now),
                LeadStatus.NEW.value,
                adapt(now),
                True,
            ],
        )
        return cursor.rowcount


def schedule_follow_up(
    lead: Lead, *, due_at: dt.datetime, note: str = "", by=None
) -> LeadFollowUp:
    if lead.status not in OPEN_STATUSES:
        raise ValidationError(_("A converted or lost lead needs no follow-up."))
    if due_at < timezone.now() - dt.timedelta(minutes=5):
        raise ValidationError({"due_at": _("A follow-up cannot be due in the past.")})
    return LeadFollowUp.objects.create(
        lead=lead,
        due_at=due_at,
        note=note,
        assigned_to=lead.assigned_to,
        created_by=by,
    )


def complete_follow_up(follow_up: LeadFollowUp, *, by=None) -> LeadFollowUp:
    with transaction.atomic():
        follow_up = LeadFollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.status == LeadFollowUp.Status.DONE:
            return follow_up
        follow_up.status = LeadFollowUp.Status.DONE
        follow_up.completed_at = timezone.now()
        follow_up.save(update_fields=["status", "completed_at", "updated_at"])
    return follow_up


@dataclass(frozen=True)
class FollowUpRun:
    opened: int
    overdue: int
    reminded: int
    escalated: int


def process_follow_ups(*, now: dt.datetime | None = None) -> FollowUpRun:
    """The beat job: open missed first contacts, mark follow-ups overdue, remind,
    escalate.

    A follow-up past due becomes overdue; its salesperson is reminded by email at most
    once per LEADS_REMINDER_INTERVAL_HOURS; after LEADS_ESCALATE_AFTER_REMINDERS
    reminders the managers are told, once. Each row is claimed under a lock, so two
    runs at once remind once.
    """
    now = now or timezone.now()
    opened = open_missed_first_contacts(now=now)
    overdue = LeadFollowUp.objects.filter(
        status=LeadFollowUp.Status.PENDING, due_at__lt=now
    ).update(status=LeadFollowUp.Status.OVERDUE, updated_at=now)
    interval = dt.timedelta(hours=settings.LEADS_REMINDER_INTERVAL_HOURS)
    due = LeadFollowUp.objects.filter(status=LeadFollowUp.Status.OVERDUE).filter(
        Q(last_reminded_at__isnull=True) | Q(last_reminded_at__lte=now - interval)
    )
    reminded = escalated = 0
    for pk in due.values_list("pk", flat=True).iterator():
        result = _remind(pk, now, interval)
        reminded += result in ("reminded", "escalated")
        escalated += result == "escalated"
    logger.info(
        "Lead follow-ups: %s first contacts missed, %s overdue, %s reminded, "
        "%s escalated",
        opened,
        overdue,
        reminded,
        escalated,
    )
    return FollowUpRun(
        opened=opened, overdue=overdue, reminded=reminded, escalated=escalated
    )


def _remind(pk: int, now: dt.datetime, interval: dt.timedelta) -> str:
    with transaction.atomic():
        follow_up = (
            LeadFollowUp.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("lead", "assigned_to")
            .filter(pk=pk, status=LeadFollowUp.Status.OVERDUE)
            .filter(
                Q(last_reminded_at__isnull=True)
                | Q(last_reminded_at__lte=now - interval)
            )
            .first()
        )
        if follow_up is None:
            return "skipped"
        follow_up.reminder_count += 1
        follow_up.last_reminded_at = now
        fields = ["reminder_count", "last_reminded_at", "updated_at"]
        outcome = "reminded"
        if (
            follow_up.reminder_count >= settings.LEADS_ESCALATE_AFTER_REMINDERS
            and follow_up.escalated_at is None
        ):
            follow_up.escalated_at = now
            fields.append("escalated_at")
            outcome = "escalated"
        follow_up.save(update_fields=fields)
        _enqueue_reminders(follow_up, outcome)
    return outcome


def _enqueue_reminders(follow_up: LeadFollowUp, outcome: str) -> None:
    """Put the salesperson's reminder, and on escalation each manager's note, in the
    outbox, inside the claim's transaction: the counter and the messages commit
    together. The reminder's number is in its key, so no reminder is written twice.
    """
    from communications.models import Channel, MessageKind
    from communications.services import MessageSpec, enqueue_messages

    lead = follow_up.lead
    context = {
        "follow_up": follow_up,
        "lead": lead,
        "url": settings.CRM_SITE_URL.rstrip("/") + lead.get_absolute_url(),
    }
    specs = []
    if follow_up.assigned_to_id:
        specs.append(
            MessageSpec(
                MessageKind.FOLLOW_UP_REMINDER,
                Channel.EMAIL,
                user=follow_up.assigned_to,
                about=follow_up,
                period=f"reminder-{follow_up.reminder_count}",
                context=context,
            )
        )
    if outcome == "escalated":
        escalation = {
            "subject": _("overdue follow-up with %(lead)s") % {"lead": lead},
            "body": _(
                "The follow-up “%(note)s” with %(lead)s was due %(due)s and is still "
                "open after %(count)d reminders to %(salesperson)s."
            )
            % {
                "note": follow_up.note,
                "lead": lead,
                "due": timezone.localtime(follow_up.due_at).strftime("%Y-%m-%d %H:%M"),
                "count": follow_up.reminder_count,
                "salesperson": follow_up.assigned_to or _("nobody"),
            },
        }
        managers = User.objects.filter(
            is_active=True, groups__name=settings.LEADS_MANAGER_GROUP
        ).exclude(email="")
        specs += [
            MessageSpec(
                MessageKind.ESCALATION,
                Channel.EMAIL,
                user=manager,
                about=follow_up,
                period="escalation",
                context={**context, **escalation},
            )
            for manager in managers.distinct()
        ]
    if specs:
        enqueue_messages(specs)
