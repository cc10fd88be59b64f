"""The trials admin: the trial list and page, its reminders, and the funnel report.

Presentation only: every change goes through trials.services. A salesperson sees the
trials they follow; users holding ``trials.view_all_trials`` (receptionists, managers)
or ``leads.view_all_leads`` see everyone's.
"""

from . import funnel, reminders, trial
from .common import sees_all_trials

__all__ = ["funnel", "reminders", "sees_all_trials", "trial"]
