"""Intake: one lead for one person. ``create_or_merge_lead`` creates a lead or fills
the blanks of the one it matches (the rules leads.importing keeps in bulk)."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Lead
from ..normalize import clean_text, normalize_contact
from .assignment import assign_round_robin

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
