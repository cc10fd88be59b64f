"""A lead's status: moving it, and the history and follow-up closing every save
brings."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_project.status import status_changed, write_status_history

from ..models import OPEN_STATUSES, Lead, LeadFollowUp, LeadStatus, LeadStatusHistory


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
