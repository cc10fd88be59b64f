"""The sender: claim due messages, send them, record what happened.

Exactly once: a row is claimed (queued/deferred -> sending) by one worker only —
``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional UPDATE checking the
row count elsewhere — and sent outside the claiming transaction, so a slow provider
holds no lock. The result is written by a conditional update (sending -> sent), and
only then the client's timeline interaction.

At least once, not more, when a worker dies: a row left in ``sending`` for
COMMUNICATIONS_SENDING_TIMEOUT_MINUTES is queued again by the sweep (and fails after
COMMUNICATIONS_MAX_ATTEMPTS). If the worker died after the provider accepted the
message and before the result was written, that message goes out twice; the
timeout keeps that to real crashes.
"""

import datetime as dt
import logging
import time
from collections import Counter

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from clients.models import Interaction

from ..channels import PermanentError, TransientError, get_backend
from ..models import MARKETING_KINDS, Message, Reason
from . import policy, rows

logger = logging.getLogger(__name__)

CLAIMABLE = (Message.Status.QUEUED, Message.Status.DEFERRED)


def sweep_stuck_messages(*, now: dt.datetime | None = None) -> int:
    """Queue again the messages whose worker died while sending them; those that have
    used up their attempts fail. Returns how many were put back or failed."""
    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=settings.COMMUNICATIONS_SENDING_TIMEOUT_MINUTES)
    stuck = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=stale)
    error = "The worker sending this message stopped before recording the result."
    with transaction.atomic():
        failed = stuck.filter(
            attempts__gte=settings.COMMUNICATIONS_MAX_ATTEMPTS - 1
        ).update(
            status=Message.Status.FAILED,
            reason=Reason.ERROR,
            error=error,
            attempts=F("attempts") + 1,
            claimed_at=None,
            next_attempt_at=None,
        )
        requeued = stuck.update(
            status=Message.Status.QUEUED,
            error=error,
            attempts=F("attempts") + 1,
            claimed_at=None,
            next_attempt_at=now,
        )
    if failed or requeued:
        logger.warning("Outbox sweep: %s requeued, %s failed", requeued, failed)
    return failed + requeued


def claim_due_messages(*, limit: int, now: dt.datetime) -> list[int]:
    """Mark up to ``limit`` due messages ``sending`` for this worker; their ids."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            ids = list(
                Message.objects.due(now)
                .order_by("next_attempt_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:limit]
            )
            if ids:
                Message.objects.filter(pk__in=ids).update(
                    status=Message.Status.SENDING, claimed_at=now
                )
        return ids
    candidates = list(
        Message.objects.due(now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return [pk for pk in candidates if _claim_one(pk, now)]


def _claim_one(pk: int, now: dt.datetime) -> bool:
    return bool(
        Message.objects.filter(
            pk=pk, status__in=CLAIMABLE, next_attempt_at__lte=now
        ).update(status=Message.Status.SENDING, claimed_at=now)
    )


def send_due_messages(
    *, limit: int | None = None, now: dt.datetime | None = None
) -> Counter:
    """Sweep stuck rows, claim up to ``limit`` due messages, send them.

    Returns a Counter: ``sent``, ``retry``, ``failed``, ``deferred``,
    ``skipped:<reason>``, ``requeued`` (the sweep). Safe to run in many workers at
    once: each message is claimed by one of them.
    """
    now = now or timezone.now()
    limit = limit or settings.COMMUNICATIONS_SEND_BATCH_SIZE
    counts: Counter = Counter()
    swept = sweep_stuck_messages(now=now)
    if swept:
        counts["requeued"] = swept
    ids = claim_due_messages(limit=limit, now=now)
    if ids:
        counts.update(deliver_claimed(ids, now=now))
    return +counts


def send_message(message_id: int, *, now: dt.datetime | None = None) -> Counter:
    """Send one message now if it is due and nobody else has it; else nothing."""
    now = now or timezone.now()
    if not _claim_one(message_id, now):
        return Counter()
    return deliver_claimed([message_id], now=now)


def deliver_claimed(ids: list[int], *, now: dt.datetime) -> Counter:
    """Send messages this worker claimed (status ``sending``) and record each result.

    Consent, opt-outs and caps are checked again (they may have changed since the
    message was enqueued), and quiet hours and ``send_before`` are applied here
    (``policy.when_to_send``: deferred, or skipped as too late).
    """
    counts: Counter = Counter()
    messages = list(
        Message.objects.filter(pk__in=ids, status=Message.Status.SENDING).order_by(
            "next_attempt_at", "pk"
        )
    )
    marketing = [m for m in messages if m.kind in MARKETING_KINDS and m.client_id]
    facts = policy.RecipientFacts.load(
        client_ids={m.client_id for m in messages if m.client_id},
        lead_ids={m.lead_id for m in messages if m.lead_id},
        kinds={m.kind for m in messages},
        marketing_client_ids={m.client_id for m in marketing},
        channels={m.channel for m in marketing},
        now=now,
    )
    backends: dict = {}
    down: dict[str, tuple[str, dt.datetime]] = {}  # channel -> (error, retry at)
    recorder = _Recorder()
    done = 0
    try:
        for message in messages:
            outcome = _deliver_one(message, facts, backends, down, recorder, now)
            counts[outcome] += 1
            done += 1
    finally:
        # Whatever stopped the loop (a time limit, a crash), what was sent is written
        # down and what was not tried goes back to the queue as it was.
        recorder.flush()
        _release([m.pk for m in messages[done:]])
        for backend in backends.values():
            backend.close()
    return counts


def _release(ids: list[int]) -> None:
    if ids:
        Message.objects.filter(pk__in=ids, status=Message.Status.SENDING).update(
            status=Message.Status.QUEUED, claimed_at=None
        )


class _Recorder:
    """Writes outcomes in small transactions: one commit per FLUSH_EVERY results or
    FLUSH_SECONDS (a commit waits for the disk, and one per message would cap the
    sender's rate), the outcomes in one conditional UPDATE per kind of outcome
    (``rows.update_claimed``: each row only if still ``sending``) and the timeline
    interactions of those written in one insert. A worker killed mid-batch leaves
    at most that many sent messages unrecorded; the sweep queues them again."""

    FLUSH_EVERY = 100
    FLUSH_SECONDS = 1.0

    def __init__(self):
        self.pending: list[tuple[Message, str, dict]] = []
        self.flushed_at = time.monotonic()

    def add(self, message: Message, status: str, **fields) -> None:
        self.pending.append((message, status, fields))
        if (
            len(self.pending) >= self.FLUSH_EVERY
            or time.monotonic() - self.flushed_at >= self.FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.flushed_at = time.monotonic()
        if not pending:
            return
        with transaction.atomic():
            written = rows.update_claimed(
                [(m.pk, status, _outcome_fields(f)) for m, status, f in pending]
            )
            timeline = []
            for message, status, fields in pending:
                if message.pk not in written:
                    logger.warning(
                        "Message %s changed hands before its result was written",
                        message.pk,
                    )
                elif status == Message.Status.SENT and message.client_id:
                    timeline.append(_interaction(message, fields["sent_at"]))
            if timeline:
                Interaction.objects.bulk_create(timeline)


def _deliver_one(
    message: Message,
    facts,
    backends: dict,
    down: dict,
    recorder: _Recorder,
    now: dt.datetime,
) -> str:
    who = policy.recipient_key(
        client_id=message.client_id, lead_id=message.lead_id, user_id=message.user_id
    )
    reason = policy.refusal(
        facts,
        kind=message.kind,
        channel=message.channel,
        who=who,
        address=message.to_address,
    )
    if reason:
        recorder.add(message, Message.Status.SKIPPED, reason=reason)
        return f"skipped:{reason}"
    timing, until = policy.when_to_send(
        facts, who=who, deadline=message.send_before, now=now
    )
    if timing == "defer":
        recorder.add(
            message,
            Message.Status.DEFERRED,
            reason=Reason.QUIET_HOURS,
            next_attempt_at=until,
        )
        return "deferred"
    if timing != "send":
        recorder.add(message, Message.Status.SKIPPED, reason=timing)
        return f"skipped:{timing}"

    if message.channel in down:
        # The provider failed an earlier message of this batch: not worth a try now
        # (a hung SMTP server would cost a timeout per message). No attempt counted.
        error, retry_at = down[message.channel]
        recorder.add(
            message, Message.Status.QUEUED, error=error, next_attempt_at=retry_at
        )
        return "postponed"
    if message.channel not in backends:
        backends[message.channel] = get_backend(message.channel)
    attempts = message.attempts + 1
    try:
        result = backends[message.channel].send(message)
    except SoftTimeLimitExceeded:
        raise  # the task is out of time: deliver_claimed puts the rest back
    except PermanentError as exc:
        reason = Reason.INVALID_ADDRESS if exc.invalid_address else Reason.REJECTED
        recorder.add(
            message,
            Message.Status.FAILED,
            reason=reason,
            error=str(exc),
            attempts=attempts,
        )
        return "failed"
    except Exception as exc:
        # TransientError, or a bug in a backend: retried, and failed in the end,
        # never left in "sending".
        if not isinstance(exc, TransientError):
            logger.exception("Channel backend crashed on message %s", message.pk)
        error = str(exc) or repr(exc)
        delay = settings.COMMUNICATIONS_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
        retry_at = timezone.now() + dt.timedelta(seconds=delay)
        if getattr(exc, "channel_down", True):
            postponed_at = timezone.now() + dt.timedelta(
                seconds=settings.COMMUNICATIONS_RETRY_BASE_SECONDS
            )
            down[message.channel] = (error, postponed_at)
        if attempts >= settings.COMMUNICATIONS_MAX_ATTEMPTS:
            recorder.add(
                message,
                Message.Status.FAILED,
                reason=Reason.ERROR,
                error=error,
                attempts=attempts,
            )
            return "failed"
        recorder.add(
            message,
            Message.Status.QUEUED,
            error=error,
            attempts=attempts,
            next_attempt_at=retry_at,
        )
        return "retry"

    recorder.add(
        message,
        Message.Status.SENT,
        attempts=attempts,
        sent_at=timezone.now(),
        provider_id=result.provider_id[:255],
        cost=result.cost,
    )
    if message.kind in MARKETING_KINDS and message.client_id:
        facts.count_one(message.client_id, message.channel)
    return "sent"


def _outcome_fields(fields: dict) -> dict:
    """An outcome's fields; reason, error and next attempt are cleared unless set."""
    return {"reason": "", "error": "", "next_attempt_at": None, **fields}


def _interaction(message: Message, sent_at: dt.datetime) -> Interaction:
    """The client's timeline shows every message they were sent. (clients has no
    service that records an interaction, so it is built here.)"""
    return Interaction(
        client_id=message.client_id,
        type=Interaction.Type.MESSAGE,
        channel=message.channel,
        direction=Interaction.Direction.OUTBOUND,
        subject=(message.subject or str(message.get_kind_display()))[:200],
        outcome=message.body_text[:2000],
        handled_by_id=message.created_by_id,
        occurred_at=sent_at,
    )


def retry_failed_messages(message_ids, *, by=None) -> int:
    """Queue failed messages again with fresh attempts; others are left alone.

    Returns how many were queued. Sender tasks follow on commit.
    """
    from ..tasks import send_due_messages as send_task

    now = timezone.now()
    with transaction.atomic():
        queued = Message.objects.filter(
            pk__in=list(message_ids), status=Message.Status.FAILED
        ).update(
            status=Message.Status.QUEUED,
            reason="",
            attempts=0,
            next_attempt_at=now,
            claimed_at=None,
        )
        if queued:
            transaction.on_commit(send_task.delay)
    if queued:
        logger.info("%s failed messages queued again by %s", queued, by)
    return queued


__all__ = [
    "claim_due_messages",
    "deliver_claimed",
    "retry_failed_messages",
    "send_due_messages",
    "send_message",
    "sweep_stuck_messages",
]
