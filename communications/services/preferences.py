"""Consent, opt-outs, and what recipients do with a message (open, click)."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Channel, ContactPreferences, Message, OptOut

FORWARD = {
    # status -> statuses it may move on from
    Message.Status.OPENED: (Message.Status.SENT, Message.Status.DELIVERED),
    Message.Status.CLICKED: (
        Message.Status.SENT,
        Message.Status.DELIVERED,
        Message.Status.OPENED,
    ),
}


def record_opt_out(
    kind: str,
    *,
    client=None,
    lead=None,
    channel: str = "",
    source: str = OptOut.Source.STAFF,
    by=None,
    message=None,
) -> OptOut:
    """Record that a client or lead wants no more ``kind`` messages on ``channel``
    ("" = every channel). A repeat call returns the existing row. ``message`` is the
    message whose link was used (campaign statistics count unsubscribes by it)."""
    if (client is None) == (lead is None):
        raise ValueError("an opt-out belongs to a client or to a lead")
    with transaction.atomic():
        opt_out, _created = OptOut.objects.get_or_create(
            client=client,
            lead=lead,
            kind=kind,
            channel=channel,
            defaults={"source": source, "created_by": by, "message": message},
        )
    return opt_out


def unsubscribe(message: Message, *, source: str) -> OptOut | None:
    """The opt-out an unsubscribe link records: this message's kind, on its channel.
    Staff messages have no unsubscribe (None)."""
    if not (message.client_id or message.lead_id):
        return None
    return record_opt_out(
        message.kind,
        client=message.client,
        lead=message.lead,
        channel=message.channel,
        source=source,
        message=message,
    )


def set_marketing_consent(
    client, channel: str, consent: bool, *, by=None
) -> ContactPreferences:
    """Give or withdraw marketing consent on one channel; stamps when it was given.
    Repeating the same answer changes nothing (the first date stays)."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    with transaction.atomic():
        prefs, _created = ContactPreferences.objects.select_for_update().get_or_create(
            client=client
        )
        if getattr(prefs, f"marketing_{channel}") == consent:
            return prefs
        setattr(prefs, f"marketing_{channel}", consent)
        prefs.save()  # stamps or clears the consent's date
    return prefs


def mark_opened(message_id: int) -> bool:
    """The open pixel was loaded: status moves forward to ``opened`` (never back from
    ``clicked``); ``opened_at`` is the first time. True if anything changed."""
    now = timezone.now()
    with transaction.atomic():
        first = Message.objects.filter(pk=message_id, opened_at__isnull=True).update(
            opened_at=now
        )
        moved = Message.objects.filter(
            pk=message_id, status__in=FORWARD[Message.Status.OPENED]
        ).update(status=Message.Status.OPENED)
    return bool(first or moved)


def mark_clicked(message_id: int) -> bool:
    """A tracked link was followed: ``clicked`` (which implies opened)."""
    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message_id, opened_at__isnull=True).update(
            opened_at=now
        )
        first = Message.objects.filter(pk=message_id, clicked_at__isnull=True).update(
            clicked_at=now
        )
        moved = Message.objects.filter(
            Q(pk=message_id), status__in=FORWARD[Message.Status.CLICKED]
        ).update(status=Message.Status.CLICKED)
    return bool(first or moved)


def preferred_channels(clients) -> dict[int, str]:
    """client id -> the channel to reach them on: their contact preferences' choice,
    else the client record's, else email (a "phone call" preference gets email).
    One query for any number of clients (jobs choose a channel per client with it)."""
    clients = list(clients)
    chosen = dict(
        ContactPreferences.objects.filter(client_id__in=[c.pk for c in clients])
        .exclude(preferred_channel="")
        .values_list("client_id", "preferred_channel")
    )
    result = {}
    for client in clients:
        channel = chosen.get(client.pk) or client.preferred_channel
        result[client.pk] = channel if channel in Channel.values else Channel.EMAIL
    return result
