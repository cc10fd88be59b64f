"""The leads admin: lists, badges, the salesperson's own leads, bulk actions, imports.

Presentation only: every change goes through leads.services (and leads.importing for
files). A salesperson sees only the leads (and follow-ups) assigned to them; users
holding ``leads.view_all_leads`` see everyone's.
"""

from . import follow_ups, imports, lead, webhooks
from .common import sees_all_leads

__all__ = ["follow_ups", "imports", "lead", "sees_all_leads", "webhooks"]
