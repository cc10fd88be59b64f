"""The communications admin: one module per subject, each registering its models.

outbox: messages, templates, contact preferences, opt-outs.
jobs: the automated jobs page, job runs, scheduled messages and staff reminders.
campaigns: segments (live count and sample) and campaigns (send, cancel, statistics).
"""

from . import campaigns, jobs, outbox

__all__ = ["campaigns", "jobs", "outbox"]
