"""Scheduled one-off messages and staff reminders.

Staff schedule a text for a client at a time. When it is due, the every-minute job
puts a message with a channel into the outbox (kind ``one_off``, about the
ScheduledMessage, so once however often the job runs) and links it; one without a
channel is a reminder for staff. Either way it becomes ``due`` and is listed on the
admin index until someone marks it done.
"""

from collections import Counter
from itertools import groupby

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import JobRun, Message, MessageKind, ScheduledMessage
from ..services import MessageSpec, enqueue_messages
from .base import CHUNK, Job, Outcome, PreviewRow, preview_specs

Status = ScheduledMessage.Status


def due_scheduled(now):
    return ScheduledMessage.objects.filter(
        status=Status.SCHEDULED, due_at__lte=now
    ).order_by("due_at", "pk")


def spec_for(scheduled: ScheduledMessage) -> MessageSpec:
    return MessageSpec(
        MessageKind.ONE_OFF,
        scheduled.channel,
        client=scheduled.client,
        about=scheduled,
        context={"subject": scheduled.subject, "body": scheduled.body},
    )


def process_due_batch(now, *, by=None, limit: int = CHUNK) -> tuple[Counter, int]:
    """Claim up to ``limit`` due rows (skipping rows another run holds), enqueue the
    messages, link them and mark every claimed row ``due``, in one transaction.
    Returns (enqueue counts, rows handled)."""
    with transaction.atomic():
        rows = list(
            due_scheduled(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("client")[:limit]
        )
        if not rows:
            return Counter(), 0
        counts: Counter = Counter()
        with_channel = [r for r in rows if r.channel]
        # Each message remembers who scheduled it (enqueue takes one ``by``).
        key = lambda r: r.created_by_id or 0  # noqa: E731
        for _creator, group in groupby(sorted(with_channel, key=key), key=key):
            group = list(group)
            author = by or group[0].created_by
            counts.update(enqueue_messages([spec_for(r) for r in group], by=author))
        keys = {spec_for(r).key: r for r in with_channel}
        linked = dict(
            Message.objects.filter(idempotency_key__in=list(keys)).values_list(
                "idempotency_key", "pk"
            )
        )
        for message_key, row in keys.items():
            row.message_id = linked.get(message_key)
        for row in rows:
            row.status = Status.DUE
            if not row.channel:
                counts["staff_reminder"] += 1
        ScheduledMessage.objects.bulk_update(rows, ["status", "message"])
    return counts, len(rows)


class ScheduledMessages(Job):
    name = JobRun.Job.SCHEDULED_MESSAGES
    tasks = ("communications.tasks_jobs.send_due_scheduled_messages",)
    description = _(
        "Every minute: scheduled messages whose time has come go into the outbox; "
        "reminders for staff become due. Both are listed on the dashboard until "
        "marked as done."
    )

    def run(self, now, *, by, outcome: Outcome, **options) -> None:
        while True:
            try:
                counts, handled = process_due_batch(now, by=by)
            except Exception as exc:  # recorded on the run; rows stay scheduled
                outcome.fail(due_scheduled(now).count(), exc)
                return
            outcome.add(counts)
            if handled < CHUNK:
                return

    def preview(self, now, **options):
        rows = list(due_scheduled(now).select_related("client"))
        with_channel = [r for r in rows if r.channel]
        preview = preview_specs([spec_for(r) for r in with_channel], now=now)
        preview += [
            PreviewRow(
                client=r.client, channel="", address="", outcome="staff", about=r
            )
            for r in rows
            if not r.channel
        ]
        return preview


def due_for(user):
    """Due scheduled messages and reminders for ``user``: theirs and unassigned
    ones, oldest first (the dashboard's panel)."""
    return (
        ScheduledMessage.objects.filter(status=Status.DUE)
        .filter(Q(assigned_to=user) | Q(assigned_to__isnull=True))
        .select_related("client", "message", "assigned_to")
        .order_by("due_at", "pk")
    )


def mark_scheduled_message_done(scheduled: ScheduledMessage, *, by) -> ScheduledMessage:
    """Acknowledge a due message or reminder: ``done``, with who and when. A
    reminder for staff may also be done before it is due; a message not sent yet is
    cancelled instead. Marking a done one again changes nothing."""
    with transaction.atomic():
        locked = ScheduledMessage.objects.select_for_update().get(pk=scheduled.pk)
        if locked.status == Status.DONE:
            return locked
        if locked.status == Status.CANCELLED:
            raise ValidationError(_("A cancelled message cannot be marked as done."))
        if locked.status == Status.SCHEDULED and locked.channel:
            raise ValidationError(
                _("This message has not been sent yet: cancel it to stop it.")
            )
        locked.status = Status.DONE
        locked.done_at = timezone.now()
        locked.done_by = by
        locked.save(update_fields=["status", "done_at", "done_by", "updated_at"])
    return locked


def cancel_scheduled_message(
    scheduled: ScheduledMessage, *, by=None
) -> ScheduledMessage:
    """Stop a scheduled message or reminder before it is due. Cancelling twice
    changes nothing; one already due (sent) cannot be cancelled."""
    with transaction.atomic():
        locked = ScheduledMessage.objects.select_for_update().get(pk=scheduled.pk)
        if locked.status == Status.CANCELLED:
            return locked
        if locked.status != Status.SCHEDULED:
            raise ValidationError(
                _("Only a message that is still scheduled can be cancelled.")
            )
        locked.status = Status.CANCELLED
        locked.done_by = by
        locked.save(update_fields=["status", "done_by", "updated_at"])
    return locked
