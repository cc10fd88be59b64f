"""Delivery reports: what the provider learnt after it accepted a message.

Twilio calls back (``communications.views.twilio_status``) as an SMS or WhatsApp
message moves on: queued, sent, then delivered (and read, on WhatsApp) or
undelivered / failed. Each report finds its message by ``provider_id`` (Twilio's
MessageSid, written by the sender) and moves it forward only:

- delivered / read: ``sent`` becomes ``delivered`` with ``delivered_at``; a message
  already opened or clicked keeps its status and only gets ``delivered_at``;
- undelivered / failed: ``sent`` becomes ``failed``, the error code in ``error``
  and the reason ``invalid_address`` for a number that cannot receive, else
  ``rejected``;
- anything else (accepted, queued, sending, sent...): nothing.

Each change is one conditional UPDATE (its WHERE names the statuses it may move on
from), so reports that arrive twice, out of order or at once change a message at
most once and never move it back: a late ``sent`` after ``delivered`` does nothing,
``failed`` after ``delivered`` does nothing, ``delivered`` after ``failed`` does
nothing.

A report can beat the sender's own record: the sender writes its results in small
batches (up to a second later), and until then the message has no provider id, so
a report for it finds nothing and is ignored. Twilio reports delivery seconds after
sending, so this concerns only the earliest, intermediate reports.
"""

import logging

from django.db.models import Case, F, Value, When
from django.utils import timezone

from ..models import Channel, Message, Reason

logger = logging.getLogger(__name__)

Status = Message.Status

TWILIO_CHANNELS = (Channel.SMS, Channel.WHATSAPP)
TWILIO_DELIVERED = frozenset({"delivered", "read"})
TWILIO_FAILED = frozenset({"undelivered", "failed"})
# Delivery error codes that mean the number cannot receive the message: invalid,
# unknown handset, a landline, opted out (STOP), not on WhatsApp. (30003, a handset
# switched off or out of coverage, is not among them: the number is fine.)
TWILIO_INVALID_NUMBER_CODES = frozenset(
    {"21211", "21610", "21614", "30005", "30006", "63003", "63024"}
)

# What a report may move a message on from.
DELIVERED_FROM = (Status.SENT, Status.DELIVERED, Status.OPENED, Status.CLICKED)
FAILED_FROM = (Status.SENT,)


class Outcome:
    """What a report did (``record_twilio_status``'s answer)."""

    DELIVERED = "delivered"
    FAILED = "failed"
    UNCHANGED = "unchanged"  # known message, nothing to move (a repeat, or too late)
    IGNORED = "ignored"  # an intermediate status: accepted, queued, sent...
    UNKNOWN = "unknown"  # no message has this provider id


def mark_delivered(provider_id: str, *, channels=TWILIO_CHANNELS, now=None) -> bool:
    """The provider delivered the message with this id: ``sent`` -> ``delivered``;
    ``delivered_at`` set once (also on a message already opened or clicked).
    True if the message changed."""
    now = now or timezone.now()
    return bool(
        _by_provider_id(provider_id, channels)
        .filter(status__in=DELIVERED_FROM, delivered_at__isnull=True)
        .update(
            status=Case(
                When(status=Status.SENT, then=Value(Status.DELIVERED)),
                default=F("status"),
            ),
            delivered_at=now,
            updated_at=now,
        )
    )


def mark_undelivered(
    provider_id: str,
    *,
    error: str,
    invalid_address: bool = False,
    channels=TWILIO_CHANNELS,
    now=None,
) -> bool:
    """The provider could not deliver the message with this id: ``sent`` ->
    ``failed`` with ``error``. A message already delivered, opened or clicked is
    left alone. True if the message changed."""
    now = now or timezone.now()
    return bool(
        _by_provider_id(provider_id, channels)
        .filter(status__in=FAILED_FROM)
        .update(
            status=Status.FAILED,
            reason=Reason.INVALID_ADDRESS if invalid_address else Reason.REJECTED,
            error=error,
            updated_at=now,
        )
    )


def record_twilio_status(
    message_sid: str,
    message_status: str,
    *,
    error_code: str = "",
    error_message: str = "",
    now=None,
) -> str:
    """Apply one Twilio status callback (MessageSid, MessageStatus, ErrorCode) to
    its message; returns an ``Outcome``. Safe to call any number of times, in any
    order, from concurrent requests."""
    status = message_status.strip().lower()
    if status in TWILIO_DELIVERED:
        changed = mark_delivered(message_sid, now=now)
        outcome = Outcome.DELIVERED
    elif status in TWILIO_FAILED:
        error = f"Twilio reported the message {status}"
        if error_code:
            error += f" (error {error_code})"
        if error_message:
            error += f": {error_message}"
        changed = mark_undelivered(
            message_sid,
            error=error,
            invalid_address=error_code in TWILIO_INVALID_NUMBER_CODES,
            now=now,
        )
        outcome = Outcome.FAILED
    else:
        return Outcome.IGNORED
    if changed:
        return outcome
    if _by_provider_id(message_sid, TWILIO_CHANNELS).exists():
        return Outcome.UNCHANGED
    logger.info("Twilio reported %s for unknown message %s", status, message_sid)
    return Outcome.UNKNOWN


def _by_provider_id(provider_id: str, channels):
    # The non-empty test matches message_provider_idx's condition (a partial index
    # is used only when the query implies it); an empty id matches nothing.
    return Message.objects.filter(
        provider_id=provider_id, channel__in=channels
    ).exclude(provider_id="")


__all__ = [
    "Outcome",
    "mark_delivered",
    "mark_undelivered",
    "record_twilio_status",
]
