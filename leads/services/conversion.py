"""Conversion: a lead becomes a client, new or matched."""

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import Client

from ..models import Lead, LeadStatus
from .status import change_lead_status


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
