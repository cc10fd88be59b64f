"""Lead operations: intake with de-duplication, status, assignment, follow-ups,
conversion into a client. Imports and webhooks go through ``create_or_merge_lead``
(or, in bulk, through leads.importing, which keeps the same rules)."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Client
from crm_project.status import status_changed, write_status_history

from .models import (
    OPEN_STATUSES,
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    RoundRobinCursor,
)
from .normalize import clean_text, normalize_contact

logger = logging.getLogger(__name__)
User = get_user_model()

# Fields a duplicate may fill on the lead it matched, when that lead has them blank.
FILLABLE_FIELDS = (
    "full_name",
    "campaign_name",
    "ad_name",
    "form_name",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
TEXT_FIELDS = (*FILLABLE_FIELDS, "external_id", "notes")


@dataclass(frozen=True)
class Intake:
    lead: Lead | None
    created: bool
    filled: tuple[str, ...] = ()
    problem: str = ""


def _column_size(name: str) -> int:
    return Lead._meta.get_field(name).max_length or 5000


def first_contact_due(received_at: dt.datetime) -> dt.datetime:
    return received_at + dt.timedelta(hours=settings.LEADS_FIRST_CONTACT_HOURS)


def create_or_merge_lead(
    data: dict, *, source: str, by=None, auto_assign: bool = False
) -> Intake:
    """One lead for one person: create it, or fill the blanks of the lead it matches.

    ``data`` holds raw values (``phone``, ``email``, ``full_name``, campaign and UTM
    fields, ``external_id``, ``received_at``). A lead matches when it shares the
    normalised phone, the lower-cased email, or the source's external id. Without a
    valid phone or email nothing is written and ``problem`` says why. Safe under
    concurrency: the unique constraints decide, and a loser of a race merges.
    """
    contact = normalize_contact(data.get("phone"), data.get("email"))
    if not contact.is_usable:
        return Intake(None, False, problem=_("no valid phone or email"))
    # Each value cut to its column, so a hostile payload cannot fail the insert.
    values = {
        name: clean_text(data.get(name), limit=_column_size(name))
        for name in TEXT_FIELDS
        if data.get(name)
    }
    external_id = values.get("external_id", "")
    received_at = data.get("received_at") or timezone.now()

    for _attempt in range(3):
        existing = _find_match(contact.phone, contact.email, source, external_id)
        if existing is not None:
            return _merge(existing, values, contact)
        try:
            with transaction.atomic():
                lead = Lead(
                    phone=contact.phone,
                    email=contact.email,
                    invalid_contact=contact.invalid_note,
                    source=source,
                    received_at=received_at,
                    first_contact_due_at=first_contact_due(received_at),
                    **values,
                )
                lead.mark_status_change(by=by)
                lead.save()
                # Without an active salesperson the lead stays unassigned; its
                # first-contact deadline is tracked on it either way.
                if auto_assign:
                    assign_round_robin([lead], by=by)
            return Intake(lead, True)
        except IntegrityError:
            # Another transaction stored the same person a moment ago: merge into it.
            continue
    raise RuntimeError("lead intake kept conflicting")  # pragma: no cover


def _find_match(phone: str, email: str, source: str, external_id: str) -> Lead | None:
    condition = Q()
    if external_id:
        condition |= Q(source=source, external_id=external_id)
    matches = Lead.objects.matching(phone=phone, email=email)
    if external_id:
        matches = Lead.objects.filter(Q(pk__in=matches.values("pk")) | condition)
    return matches.order_by("pk").first()


def _merge(lead: Lead, values: dict, contact) -> Intake:
    """Fill the matched lead's blank fields; never overwrite what staff entered."""
    with transaction.atomic():
        # Re-read under a lock: a stale copy must not save over a newer status.
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        return _fill_blanks(lead, values, contact)


def _fill_blanks(lead: Lead, values: dict, contact) -> Intake:
    filled = [
        name for name in FILLABLE_FIELDS if values.get(name) and not getattr(lead, name)
    ]
    for name in filled:
        setattr(lead, name, values[name])
    # A second identifier is added only if no other lead holds it.
    for name in ("phone", "email"):
        value = getattr(contact, name)
        if value and not getattr(lead, name):
            if not Lead.objects.matching(**{name: value}).exists():
                setattr(lead, name, value)
                filled.append(name)
    if filled:
        try:
            with transaction.atomic():
                lead.save(update_fields=[*filled, "updated_at"])
        except IntegrityError:
            lead.refresh_from_db()
            filled = []
    return Intake(lead, False, tuple(filled))


# --- status -----------------------------------------------------------------------


def change_lead_status(
    lead: Lead, status: str, *, by=None, note: str = "", lost_reason: str = ""
) -> Lead:
    """Move ``lead`` to ``status``; one history row; a repeat call is harmless."""
    if status == LeadStatus.LOST and not (lost_reason or lead.lost_reason):
        raise ValidationError({"lost_reason": _("Say why the lead was lost.")})
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.status == status:
            return locked
        locked.check_transition(locked.status, status)
        locked.status = status
        fields = ["status", "updated_at"]
        if status == LeadStatus.LOST:
            locked.lost_reason = lost_reason or locked.lost_reason
            fields.append("lost_reason")
        locked.mark_status_change(by=by, note=note)
        locked.save(update_fields=fields)
    lead.status = locked.status
    return locked


def record_lead_status_change(lead: Lead, *, created: bool) -> None:
    """After any save: one history row when the status changed (or on creation);
    a lead leaving the open statuses has its pending and overdue follow-ups closed."""
    old = status_changed(lead, created=created)
    if old is None:
        return
    write_status_history(lead, LeadStatusHistory, old=old, lead=lead)
    open_follow_ups = LeadFollowUp.objects.filter(
        lead=lead,
        status__in=[LeadFollowUp.Status.PENDING, LeadFollowUp.Status.OVERDUE],
    )
    if old == LeadStatus.NEW and lead.status != LeadStatus.NEW:
        # Contacted, late: the missed first contact is done now.
        open_follow_ups.filter(first_contact=True).update(
            status=LeadFollowUp.Status.DONE, completed_at=timezone.now()
        )
    if lead.status not in OPEN_STATUSES:
        # Whatever path closed the lead (a service, the admin, a plain save), nobody
        # is to be reminded about it any more.
        open_follow_ups.update(
            status=LeadFollowUp.Status.DONE, completed_at=timezone.now()
        )


# --- assignment ---------------------------------------------------------------------


def active_salespeople():
    return User.objects.filter(
        is_active=True, groups__name=settings.LEADS_SALESPERSON_GROUP
    ).order_by("pk")


def assign_lead(lead: Lead, user, *, by=None) -> Lead:
    """Give ``lead`` to ``user`` (None unassigns); its pending follow-ups follow it."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.assigned_to_id == (user.pk if user else None):
            return lead
        lead.assigned_to = user
        lead.assigned_at = timezone.now() if user else None
        lead.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        lead.follow_ups.filter(
            status__in=[LeadFollowUp.Status.PENDING, LeadFollowUp.Status.OVERDUE]
        ).update(assigned_to=user)
    return lead


def assign_round_robin(leads, *, by=None) -> int:
    """Share ``leads`` out among active salespeople in turn; returns how many.

    The cursor row is locked, so two imports assigning at once continue one rotation.
    """
    people = list(active_salespeople())
    leads = list(leads)
    if not people or not leads:
        return 0
    with transaction.atomic():
        cursor, _ = RoundRobinCursor.objects.select_for_update().get_or_create(
            name="leads"
        )
        ids = [p.pk for p in people]
        # The turn passes to the first salesperson after the last one served,
        # also when that one has since left the rotation.
        start = 0
        if cursor.last_user_id is not None:
            start = next((i for i, pk in enumerate(ids) if pk > cursor.last_user_id), 0)
        for offset, lead in enumerate(leads):
            person = people[(start + offset) % len(people)]
            assigned = assign_lead(lead, person, by=by)
            lead.assigned_to, lead.assigned_at = (
                assigned.assigned_to,
                assigned.assigned_at,
            )
        cursor.last_user_id = people[(start + len(leads) - 1) % len(people)].pk
        cursor.save(update_fields=["last_user_id"])
    return len(leads)


# --- follow-ups ---------------------------------------------------------------------


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


# --- conversion ---------------------------------------------------------------------


def convert_lead(lead: Lead, *, by=None) -> Client:
    """Make ``lead`` a client: link the client with the same phone or email, or create
    one; keep the lead (its source and history) pointing at the client. A second
    call returns the same client."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.client_id:
            return lead.client
        client = _matching_client(lead)
        if client is None:
            first, _sep, last = (lead.full_name or "").strip().partition(" ")
            client = Client(
                first_name=first or lead.email.split("@")[0] or lead.phone,
                last_name=last,
                phone=lead.phone,
                email=lead.email,
                acquisition_source=lead.source,
            )
            client.save()
        elif not client.acquisition_source:
            client.acquisition_source = lead.source
            client.save(update_fields=["acquisition_source", "updated_at"])
        lead.client = client
        lead.converted_at = timezone.now()
        lead.save(update_fields=["client", "converted_at", "updated_at"])
        change_lead_status(lead, LeadStatus.CONVERTED, by=by, note=_("Converted"))
    return client


def _matching_client(lead: Lead) -> Client | None:
    condition = Q()
    if lead.phone:
        condition |= Q(phone=lead.phone)
    if lead.email:
        condition |= Q(email_lower=lead.email.lower())  # the unique lower(email) index
    if not condition:
        return None
    clients = Client.objects.annotate(email_lower=Lower("email")).filter(condition)
    return clients.order_by("pk").first()
