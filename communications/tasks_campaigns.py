"""Thin, idempotent campaign tasks (communications.campaigns does the work)."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

__all__ = ["run_due_campaigns", "send_campaign_chunk"]


@shared_task(name="communications.tasks.send_campaign_chunk")
def send_campaign_chunk(chunk_id: int, queue: str | None = None) -> dict:
    """Enqueue one chunk of a campaign and wake a sender (on ``queue`` if given);
    a second run finds the chunk done and does nothing."""
    from .campaigns import enqueue_campaign_chunk

    counts = enqueue_campaign_chunk(chunk_id, queue=queue)
    if counts:
        logger.info("Campaign chunk %s: %s", chunk_id, dict(counts))
    return dict(counts)


@shared_task(name="communications.tasks.run_due_campaigns")
def run_due_campaigns() -> dict:
    """Every minute: start due scheduled campaigns, republish lost chunks, mark
    finished campaigns sent."""
    from .campaigns import run_due_campaigns as run

    counts = run()
    if counts:
        logger.info("Campaigns: %s", dict(counts))
    return dict(counts)
