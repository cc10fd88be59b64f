"""Thin, idempotent tasks over the outbox's sender (communications.services)."""

import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(name="communications.tasks.send_due_messages")
def send_due_messages(limit: int | None = None) -> dict:
    """Claim and send a batch of due messages (also run by beat every minute).
    Many at once are safe: each message is claimed by one run."""
    counts = services.send_due_messages(limit=limit)
    if counts:
        logger.info("Outbox: %s", dict(counts))
    return dict(counts)


@shared_task(name="communications.tasks.send_message")
def send_message(message_id: int) -> dict:
    """Send one message now if it is still due; a second run does nothing."""
    return dict(services.send_message(message_id))


# The automated jobs' and the campaigns' tasks live in their own modules; importing
# them registers them.
from .tasks_campaigns import *  # noqa: E402, F403
from .tasks_jobs import *  # noqa: E402, F403
