"""Campaigns: schedule, send, cancel, and what came of them.

A campaign moves draft -> scheduled -> sending -> sent, and may be cancelled
before it is sent. Starting it freezes the segment's client ids into chunks
(``CampaignChunk``, COMMUNICATIONS_CAMPAIGN_CHUNK_SIZE clients each) and publishes
one task per chunk; each chunk enqueues its messages through ``enqueue_messages``
(consent, opt-outs and caps are checked there) and wakes one sender for them. So a
50,000-client campaign costs about 50 broker messages, not 50,000.

Every function here is safe to repeat: a campaign already started is not started
again, a chunk already done is not enqueued again (its messages' idempotency keys
would stop a second copy anyway), cancelling twice cancels once.
"""

import datetime as dt
import logging
from collections import Counter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client

from .models import (
    Campaign,
    CampaignChunk,
    Message,
    MessageKind,
    Reason,
)
from .segments import segment_client_ids
from .services import MessageSpec, enqueue_messages
from .services.rows import id_in

logger = logging.getLogger(__name__)

# A chunk that is still not done this long after it was published is published
# again (its task was lost); running a chunk twice is harmless.
REPUBLISH_AFTER = dt.timedelta(minutes=10)
PENDING = (Message.Status.QUEUED, Message.Status.DEFERRED, Message.Status.SENDING)
SENT_OR_LATER = (
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.OPENED,
    Message.Status.CLICKED,
)


def chunk_size() -> int:
    return settings.COMMUNICATIONS_CAMPAIGN_CHUNK_SIZE


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def schedule_campaign(campaign: Campaign, *, at: dt.datetime | None, by) -> Campaign:
    """Send ``campaign`` at ``at`` (the every-minute job starts it); ``at`` None
    takes a scheduled campaign back to draft. Only drafts and scheduled campaigns
    can be (re)scheduled; anything else is a ValidationError."""
    with transaction.atomic():
        campaign = _locked(campaign)
        status = Campaign.Status.SCHEDULED if at else Campaign.Status.DRAFT
        if campaign.status == status and campaign.scheduled_at == at:
            return campaign
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            raise ValidationError(
                _("Only a draft can be scheduled; this campaign is %(status)s.")
                % {"status": campaign.get_status_display()}
            )
        campaign.status = status
        campaign.scheduled_at = at
        campaign.save(update_fields=["status", "scheduled_at", "updated_at"])
    logger.info("Campaign %s scheduled for %s by %s", campaign.pk, at, by)
    return campaign


def send_campaign_now(campaign: Campaign, *, by, queue: str | None = None) -> Campaign:
    """Start sending a draft or scheduled campaign: freeze its segment into chunks
    and publish one task per chunk after commit (on ``queue`` if given).

    Sets ``targeted`` and ``started_at``; an empty segment makes it ``sent`` at
    once. A campaign already sending, sent or cancelled is returned unchanged.
    """
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            return campaign
        now = timezone.now()
        ids = segment_client_ids(campaign.segment)
        size = chunk_size()
        chunks = CampaignChunk.objects.bulk_create(
            CampaignChunk(
                campaign=campaign,
                number=number,
                offset=start,
                client_ids=ids[start : start + size],
                created_at=now,
            )
            for number, start in enumerate(range(0, len(ids), size))
        )
        campaign.status = Campaign.Status.SENDING if ids else Campaign.Status.SENT
        campaign.started_at = now
        campaign.finished_at = None if ids else now
        campaign.targeted = len(ids)
        campaign.skipped = {}
        campaign.save(
            update_fields=[
                "status",
                "started_at",
                "finished_at",
                "targeted",
                "skipped",
                "updated_at",
            ]
        )
        chunk_ids = [chunk.pk for chunk in chunks]
        transaction.on_commit(lambda: _publish_chunks(chunk_ids, queue=queue))
    logger.info(
        "Campaign %s started by %s: %s clients in %s chunks",
        campaign.pk,
        by,
        len(ids),
        len(chunk_ids),
    )
    return campaign


def _publish_chunks(chunk_ids: list[int], *, queue: str | None) -> None:
    from .tasks_campaigns import send_campaign_chunk

    for chunk_id in chunk_ids:
        send_campaign_chunk.apply_async(
            args=[chunk_id], kwargs={"queue": queue}, queue=queue
        )


def _send_after(campaign: Campaign, position: int) -> dt.datetime | None:
    """The throttle: the n-th client of the campaign waits n // rate minutes."""
    if not campaign.throttle_per_minute:
        return None
    minutes = position // campaign.throttle_per_minute
    return campaign.started_at + dt.timedelta(minutes=minutes)


def enqueue_campaign_chunk(chunk_id: int, *, queue: str | None = None) -> Counter:
    """Enqueue the messages of one chunk and wake one sender for those due now.

    The chunk is locked while its messages are written and stamped done in the
    same transaction: a second run (a retried or duplicated task) finds it done and
    returns an empty Counter. A chunk of a campaign no longer sending (cancelled) is
    closed without messages. Returns ``enqueue_messages``' Counter.
    """
    from .tasks import send_due_messages

    with transaction.atomic():
        chunk = (
            CampaignChunk.objects.select_for_update(of=("self",))
            .select_related("campaign__template")
            .filter(pk=chunk_id)
            .first()
        )
        if chunk is None or chunk.done_at is not None:
            return Counter()
        campaign = chunk.campaign
        now = timezone.now()
        counts: Counter = Counter()
        if campaign.status == Campaign.Status.SENDING:
            clients = {
                client.pk: client
                for client in Client.objects.filter(id_in("pk", chunk.client_ids))
            }
            specs = [
                MessageSpec(
                    MessageKind.CAMPAIGN,
                    campaign.channel,
                    client=clients[client_id],
                    about=campaign,
                    template=campaign.template,
                    campaign_id=campaign.pk,
                    send_after=_send_after(campaign, chunk.offset + index),
                )
                for index, client_id in enumerate(chunk.client_ids)
                if client_id in clients  # deleted since the campaign started
            ]
            counts = enqueue_messages(specs, by=campaign.created_by, wake_senders=False)
            due_now = min(
                counts["queued"],
                sum(s.send_after is None or s.send_after <= now for s in specs),
            )
            if due_now:
                transaction.on_commit(
                    lambda: send_due_messages.apply_async(
                        kwargs={"limit": due_now}, queue=queue
                    )
                )
        chunk.done_at = now
        chunk.save(update_fields=["done_at"])
    return counts


def cancel_campaign(campaign: Campaign, *, by) -> int:
    """Cancel a draft, scheduled or sending campaign: its chunks not yet enqueued
    never will be, and its queued or deferred messages become ``skipped``
    (reason ``cancelled``). Messages already handed to a provider stay sent.
    Returns how many messages were skipped; a cancelled campaign returns 0, a sent
    one is a ValidationError."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == Campaign.Status.CANCELLED:
            return 0
        if campaign.status == Campaign.Status.SENT:
            raise ValidationError(
                _("A campaign that has been sent cannot be cancelled.")
            )
        now = timezone.now()
        campaign.status = Campaign.Status.CANCELLED
        campaign.finished_at = now
        campaign.save(update_fields=["status", "finished_at", "updated_at"])
        # Waits for chunks being enqueued right now, so their messages are seen below.
        list(campaign.chunks.select_for_update().values_list("pk", flat=True))
        campaign.chunks.filter(done_at__isnull=True).update(done_at=now)
        skipped = Message.objects.filter(
            campaign=campaign,
            status__in=[Message.Status.QUEUED, Message.Status.DEFERRED],
        ).update(
            status=Message.Status.SKIPPED,
            reason=Reason.CANCELLED,
            next_attempt_at=None,
        )
    logger.info("Campaign %s cancelled by %s: %s skipped", campaign.pk, by, skipped)
    return skipped


def finish_campaign(campaign: Campaign) -> bool:
    """Mark a sending campaign ``sent`` once every chunk is done and none of its
    messages is queued, deferred or sending; keeps the skip counts. True if it did."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Campaign.Status.SENDING:
            return False
        if campaign.chunks.filter(done_at__isnull=True).exists():
            return False
        if campaign.messages.filter(status__in=PENDING).exists():
            return False
        stats = campaign_stats(campaign)
        campaign.status = Campaign.Status.SENT
        campaign.finished_at = timezone.now()
        campaign.skipped = stats["skipped_by_reason"]
        campaign.save(update_fields=["status", "finished_at", "skipped", "updated_at"])
    return True


def run_due_campaigns(*, now: dt.datetime | None = None, queue=None) -> Counter:
    """The every-minute job: start scheduled campaigns whose time has come, publish
    again chunks whose task was lost, and mark finished campaigns sent."""
    now = now or timezone.now()
    counts: Counter = Counter()
    due = Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, scheduled_at__lte=now
    ).order_by("scheduled_at")
    for campaign in due:
        if send_campaign_now(campaign, by=None, queue=queue).status != (
            Campaign.Status.SCHEDULED
        ):
            counts["started"] += 1
    lost = list(
        CampaignChunk.objects.filter(
            campaign__status=Campaign.Status.SENDING,
            done_at__isnull=True,
            created_at__lt=now - REPUBLISH_AFTER,
        ).values_list("pk", flat=True)
    )
    if lost:
        _publish_chunks(lost, queue=queue)
        counts["republished"] = len(lost)
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING):
        counts["finished"] += finish_campaign(campaign)
    return +counts


# --- statistics ----------------------------------------------------------------------

STAT_NAMES = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "failed",
    "skipped",
    "pending",
    "unsubscribed",
)


def _aggregates(prefix: str = "") -> dict:
    """Count expressions over a campaign's messages (``prefix`` "messages__" from
    Campaign, "" from Message): one pass, no query per campaign."""

    def count(condition=None, field="pk"):
        if condition is None:
            return Count(f"{prefix}{field}" if prefix else field, distinct=True)
        return Count(prefix + "pk" if prefix else "pk", filter=condition, distinct=True)

    def q(**lookups):
        return Q(**{prefix + key: value for key, value in lookups.items()})

    delivered = (
        Message.Status.DELIVERED,
        Message.Status.OPENED,
        Message.Status.CLICKED,
    )
    return {
        "sent_count": count(q(status__in=SENT_OR_LATER)),
        "delivered_count": count(
            q(status__in=delivered) | q(delivered_at__isnull=False)
        ),
        "opened_count": count(q(opened_at__isnull=False)),
        "clicked_count": count(q(clicked_at__isnull=False)),
        "failed_count": count(q(status=Message.Status.FAILED)),
        "skipped_count": count(q(status=Message.Status.SKIPPED)),
        "pending_count": count(q(status__in=PENDING)),
        "unsubscribed_count": Count(
            prefix + "opt_outs" if prefix else "opt_outs", distinct=True
        ),
    }


def with_stats(campaigns: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """``campaigns`` annotated with ``<stat>_count`` for each of STAT_NAMES."""
    return campaigns.annotate(**_aggregates("messages__"))


def campaign_stats(campaign: Campaign) -> dict:
    """Targeted, sent, delivered, opened, clicked, failed, skipped (and by reason),
    pending and unsubscribed for one campaign: one aggregate query."""
    skipped_by = {
        f"skipped_{reason}": Count(
            "pk", filter=Q(status=Message.Status.SKIPPED, reason=reason), distinct=True
        )
        for reason in Reason.values
    }
    row = Message.objects.filter(campaign=campaign).aggregate(
        **_aggregates(), **skipped_by
    )
    stats = {name: row[f"{name}_count"] for name in STAT_NAMES}
    stats["targeted"] = campaign.targeted
    stats["skipped_by_reason"] = {
        reason: row[f"skipped_{reason}"]
        for reason in Reason.values
        if row[f"skipped_{reason}"]
    }
    return stats


__all__ = [
    "campaign_stats",
    "cancel_campaign",
    "enqueue_campaign_chunk",
    "finish_campaign",
    "run_due_campaigns",
    "schedule_campaign",
    "send_campaign_now",
    "with_stats",
]
