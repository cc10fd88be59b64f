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

from communications.models import Channel, MessageKind
from communications.services import MessageSpec, enqueue_messages

from ..models import OPEN_STATUSES, Lead, LeadFollowUp, LeadStatus

REMIND_BATCH = 500
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
    managers = list(
        User.objects.filter(is_active=True, groups__name=settings.LEADS_MANAGER_GROUP)
        .exclude(email="")
        .distinct()
    )
    reminded = escalated = 0
    last_pk = 0
    while True:
        # Keyset batches: a backlog of thousands (a large import's missed first
        # contacts) costs a few statements per batch, not per follow-up.
        batch = list(
            due.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:REMIND_BATCH]
        )
        if not batch:
            break
        last_pk = batch[-1]
        batch_reminded, batch_escalated = _remind(batch, now, interval, managers)
        reminded += batch_reminded
        escalated += batch_escalated
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


def _remind(
    pks: list[int], now: dt.datetime, interval: dt.timedelta, managers: list
) -> tuple[int, int]:
    """Claim the follow-ups still due among ``pks`` (rows another run holds are
    skipped, and a row it has just reminded no longer matches), count the reminder,
    mark the escalations and enqueue the messages, in one transaction. Returns how
    many were reminded and how many of them escalated."""
    with transaction.atomic():
        follow_ups = list(
            LeadFollowUp.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("lead", "assigned_to")
            .filter(pk__in=pks, status=LeadFollowUp.Status.OVERDUE)
            .filter(
                Q(last_reminded_at__isnull=True)
                | Q(last_reminded_at__lte=now - interval)
            )
            .order_by("pk")
        )
        escalate_after = settings.LEADS_ESCALATE_AFTER_REMINDERS
        specs = []
        escalated = 0
        for follow_up in follow_ups:
            follow_up.reminder_count += 1
            follow_up.last_reminded_at = now
            follow_up.updated_at = now
            escalate = (
                follow_up.reminder_count >= escalate_after
                and follow_up.escalated_at is None
            )
            if escalate:
                follow_up.escalated_at = now
                escalated += 1
            specs += _reminder_specs(follow_up, managers if escalate else [])
        LeadFollowUp.objects.bulk_update(
            follow_ups,
            ["reminder_count", "last_reminded_at", "escalated_at", "updated_at"],
        )
        if specs:
            enqueue_messages(specs)
    return len(follow_ups), escalated


def _reminder_specs(follow_up: LeadFollowUp, managers: list) -> list[MessageSpec]:
    """The salesperson's reminder, and each of ``managers``' note when it escalates.
    They are enqueued inside the claim's transaction: the counter and the messages
    commit together. The reminder's number is in its key, so no reminder is written
    twice.
    """
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
    if managers:
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
        specs += [
            MessageSpec(
                MessageKind.ESCALATION,
                Channel.EMAIL,
                user=manager,
                about=follow_up,
                period="escalation",
                context={**context, **escalation},
            )
            for manager in managers
        ]
    return specs
