"""Assignment: giving a lead to a salesperson, by hand or in turn."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from ..models import Lead, LeadFollowUp, RoundRobinCursor

User = get_user_model()


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
