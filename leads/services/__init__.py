"""Lead operations: intake with de-duplication, status, assignment, follow-ups,
conversion into a client. Imports and webhooks go through ``create_or_merge_lead``
(or, in bulk, through leads.importing, which keeps the same rules).

Intake (``intake``):
    create_or_merge_lead(data, *, source, by=None, auto_assign=False) -> Intake
    first_contact_due(received_at) -> datetime
    FILLABLE_FIELDS, TEXT_FIELDS

Status (``status``):
    change_lead_status(lead, status, *, by=None, note="", lost_reason="") -> Lead
    record_lead_status_change(lead, *, created) (the post_save receiver's service)

Assignment (``assignment``):
    active_salespeople() -> QuerySet[User]
    assign_lead(lead, user, *, by=None) -> Lead
    assign_round_robin(leads, *, by=None) -> int

Follow-ups (``follow_ups``):
    schedule_follow_up(lead, *, due_at, note="", by=None) -> LeadFollowUp
    complete_follow_up(follow_up, *, by=None) -> LeadFollowUp
    open_missed_first_contacts(*, now=None) -> int
    process_follow_ups(*, now=None) -> FollowUpRun (the beat job)

Conversion (``conversion``):
    convert_lead(lead, *, by=None) -> Client
"""

from .assignment import active_salespeople, assign_lead, assign_round_robin
from .conversion import convert_lead
from .follow_ups import (
    FollowUpRun,
    complete_follow_up,
    open_missed_first_contacts,
    process_follow_ups,
    schedule_follow_up,
)
from .intake import (
    FILLABLE_FIELDS,
    TEXT_FIELDS,
    Intake,
    create_or_merge_lead,
    first_contact_due,
)
from .status import change_lead_status, record_lead_status_change

__all__ = [
    "FILLABLE_FIELDS",
    "TEXT_FIELDS",
    "FollowUpRun",
    "Intake",
    "active_salespeople",
    "assign_lead",
    "assign_round_robin",
    "change_lead_status",
    "complete_follow_up",
    "convert_lead",
    "create_or_merge_lead",
    "first_contact_due",
    "open_missed_first_contacts",
    "process_follow_ups",
    "record_lead_status_change",
    "schedule_follow_up",
]
