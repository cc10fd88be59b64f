"""Putting messages into the outbox: one (``enqueue_message``) or thousands
(``enqueue_messages``), through the same checks and the same insert-or-ignore."""

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from .. import rendering, tracking
from ..models import MARKETING_KINDS, Channel, Message, MessageKind, MessageTemplate
from . import policy, rows

# Checked for every spec: the enums' ``values`` build a new list on each access.
KINDS = frozenset(MessageKind.values)
CHANNELS = frozenset(Channel.values)


@dataclass
class MessageSpec:
    """One message to enqueue: the arguments of ``enqueue_message`` as a value.

    Exactly one of ``client``, ``lead``, ``user``. ``about`` is the model instance the
    message is about (appointment, purchase, trial...); ``period`` tells apart
    messages of the same kind about the same thing ("2026-11-23", "2026-Q4",
    "24h"); ``context`` adds template variables; ``template`` forces one template
    (a test send) instead of looking one up by kind, channel and language — a
    named (campaign) template is taken in the recipient's language when a version
    with the same name and channel exists. ``campaign_id`` links the row to its
    campaign. ``send_before`` is when it stops being worth sending; by default the
    start of the appointment or lesson a reminder is about (``policy.SEND_BEFORE``).
    """

    kind: str
    channel: str
    client: Any = None
    lead: Any = None
    user: Any = None
    about: Any = None
    period: str = ""
    context: dict | None = None
    send_after: dt.datetime | None = None
    language: str | None = None
    template: MessageTemplate | None = None
    campaign_id: int | None = None
    send_before: dt.datetime | None = None
    key: str = field(default="", init=False)
    # ("client" | "lead" | "user", id): read by every check, worked out once.
    who: tuple = field(default=(), init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown message kind {self.kind!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if sum(x is not None for x in (self.client, self.lead, self.user)) != 1:
            raise ValueError("a message has exactly one of client, lead or user")
        self.who = policy.recipient_key(
            client_id=getattr(self.client, "pk", None),
            lead_id=getattr(self.lead, "pk", None),
            user_id=getattr(self.user, "pk", None),
        )
        self.key = _key(self.kind, self.who, self.about, self.period)
        if self.send_before is None:
            self.send_before = policy.send_before(self.kind, self.about)


def idempotency_key(
    kind: str, *, client=None, lead=None, user=None, about=None, period: str = ""
) -> str:
    """ "kind:recipient-type:id:app.model:object-id:period", e.g.
    ``appointment_reminder:client:12:appointments.appointment:345:2026-11-23``.

    The channel is deliberately not part of it: one reminder reaches a person once,
    by one channel. A job that wants the same thing on two channels says so in the
    period ("2026-11-23:sms").
    """
    who = policy.recipient_key(
        client_id=getattr(client, "pk", None),
        lead_id=getattr(lead, "pk", None),
        user_id=getattr(user, "pk", None),
    )
    return _key(kind, who, about, period)


def _key(kind: str, who: tuple, about, period: str) -> str:
    if about is not None:
        subject = f"{about._meta.label_lower}:{about.pk}"
    else:
        subject = "-:-"
    return f"{kind}:{who[0]}:{who[1]}:{subject}:{period}"[:255]


def address_for(channel: str, *, client=None, lead=None, user=None) -> str:
    person = client or lead or user
    if channel == Channel.EMAIL:
        return (getattr(person, "email", "") or "").strip().lower()
    return (getattr(person, "phone", "") or "").strip()


class _Batch:
    """Everything a set of specs needs, loaded with a constant number of queries."""

    def __init__(self, specs: list[MessageSpec], *, now: dt.datetime):
        self.now = now
        client_ids = {s.client.pk for s in specs if s.client is not None}
        lead_ids = {s.lead.pk for s in specs if s.lead is not None}
        marketing = [s for s in specs if s.kind in MARKETING_KINDS and s.client]
        self.facts = policy.RecipientFacts.load(
            client_ids=client_ids,
            lead_ids=lead_ids,
            kinds={s.kind for s in specs},
            marketing_client_ids={s.client.pk for s in marketing},
            channels={s.channel for s in marketing},
            now=now,
        )
        self.templates = {
            (t.kind, t.channel, t.language): t
            for t in MessageTemplate.objects.filter(
                is_active=True,
                kind__in={s.kind for s in specs},
                channel__in={s.channel for s in specs},
            )
        }
        # Campaign templates in every language: (name, channel, language) -> template.
        names = {s.template.name for s in specs if s.template and s.template.name}
        self.named = (
            {
                (t.name, t.channel, t.language): t
                for t in MessageTemplate.objects.filter(
                    is_active=True, kind=MessageKind.CAMPAIGN, name__in=names
                )
            }
            if names
            else {}
        )
        self.compiled: dict[int, rendering.Compiled] = {}
        self.content_types: dict[type, ContentType] = {}
        self.business = rendering.business()
        self.unsubscribe_base = tracking.unsubscribe_base()
        self.signer = tracking.unsubscribe_signer()

    def template_for(self, spec: MessageSpec, language: str):
        if spec.template is not None:
            if spec.template.name:
                return self.named.get(
                    (spec.template.name, spec.channel, language), spec.template
                )
            return spec.template
        return self.templates.get(
            (spec.kind, spec.channel, language)
        ) or self.templates.get((spec.kind, spec.channel, "en"))

    def _compiled(self, template) -> rendering.Compiled:
        key = template.pk or id(template)
        if key not in self.compiled:
            self.compiled[key] = rendering.compile_template(template)
        return self.compiled[key]

    def build(self, spec: MessageSpec, *, by=None) -> dict:
        """The outbox row for ``spec`` (a dict of column values, see ``rows``):
        queued and rendered, or skipped with its reason."""
        from ..models import Reason

        due = spec.send_after or self.now
        language = self.facts.language(spec.client, spec.language)
        address = address_for(
            spec.channel, client=spec.client, lead=spec.lead, user=spec.user
        )
        row = rows.new_row(
            kind=spec.kind,
            channel=spec.channel,
            client_id=spec.client.pk if spec.client is not None else None,
            lead_id=spec.lead.pk if spec.lead is not None else None,
            user_id=spec.user.pk if spec.user is not None else None,
            to_address=address,
            send_after=due,
            send_before=spec.send_before,
            next_attempt_at=due,
            idempotency_key=spec.key,
            campaign_id=spec.campaign_id,
            created_by_id=getattr(by, "pk", None),
            created_at=self.now,
            updated_at=self.now,
        )
        if spec.about is not None:
            model = type(spec.about)
            if model not in self.content_types:
                self.content_types[model] = ContentType.objects.get_for_model(model)
            row["content_type_id"] = self.content_types[model].pk
            row["object_id"] = spec.about.pk

        reason = policy.refusal(
            self.facts,
            kind=spec.kind,
            channel=spec.channel,
            who=spec.who,
            address=address,
        )
        if not reason and policy.too_late(spec.send_before, due):
            reason = Reason.TOO_LATE
        template = None
        if not reason:
            template = self.template_for(spec, language)
            if template is None:
                reason = Reason.TEMPLATE_MISSING
            else:
                language = template.language
        row["language"] = language
        if not reason:
            context = rendering.build_context(
                client=spec.client,
                lead=spec.lead,
                user=spec.user,
                about=spec.about,
                unsubscribe_url=(
                    tracking.unsubscribe_url(
                        spec.key, base=self.unsubscribe_base, signer=self.signer
                    )
                    if spec.who[0] != "user"
                    else ""
                ),
                extra=spec.context,
                business_info=self.business,
            )
            try:
                compiled = self._compiled(template)
                subject, text, html = compiled.render(context, language=language)
            except Exception as exc:  # a template's error is the template's problem
                reason = Reason.TEMPLATE_ERROR
                row["error"] = f"{type(exc).__name__}: {exc}"
            else:
                row["subject"] = subject
                row["body_text"] = text
                row["body_html"] = html if spec.channel == Channel.EMAIL else ""
        if reason:
            row["status"] = Message.Status.SKIPPED
            row["reason"] = reason
            row["next_attempt_at"] = None
        elif spec.kind in MARKETING_KINDS and spec.client is not None:
            # Later messages in this batch count against the same caps.
            self.facts.count_one(spec.client.pk, spec.channel)
        return row


def _queue_senders(due_now: int) -> None:
    """Enough sender tasks for what is due now (each claims a batch), after commit."""
    if not due_now:
        return
    from ..tasks import send_due_messages

    tasks = min(math.ceil(due_now / settings.COMMUNICATIONS_SEND_BATCH_SIZE), 20)
    for _ in range(tasks):
        transaction.on_commit(send_due_messages.delay)


def enqueue_messages(specs, *, by=None, wake_senders: bool = True) -> Counter:
    """Enqueue many messages at once (jobs, campaigns): insert-or-ignore in bulk.

    ``specs`` is an iterable of ``MessageSpec``. Consent, opt-outs and caps are loaded
    for all of them in a constant number of queries, each template is compiled once
    per (kind, channel, language), and the rows are plain values (no model
    instances) that go in with ``INSERT ... ON CONFLICT (idempotency_key) DO
    NOTHING`` (through COPY and a staging table on PostgreSQL; see ``rows``).
    Refused messages are written as ``skipped`` with their reason.

    Returns a Counter of outcomes: ``queued``, ``skipped:<reason>``, ``duplicate``
    (the key was already in the outbox, twice in ``specs``, or written by a
    concurrent run first: only the rows this call wrote count as anything else).
    Sender tasks are queued on commit for the messages due now, unless
    ``wake_senders`` is False (campaign chunks queue their own, one per chunk, to
    keep the number of broker messages down). Safe to run twice: the second run
    counts every message as a duplicate and writes nothing.
    """
    specs = list(specs)
    counts: Counter = Counter()
    if not specs:
        return counts
    now = timezone.now()
    unique: dict[str, MessageSpec] = {}
    for spec in specs:
        if spec.key in unique:
            counts["duplicate"] += 1
        else:
            unique[spec.key] = spec
    with transaction.atomic():
        existing = rows.existing_keys(unique)
        counts["duplicate"] += len(existing)
        fresh = [s for k, s in unique.items() if k not in existing]
        if not fresh:
            return counts
        batch = _Batch(fresh, now=now)
        built = [batch.build(spec, by=by) for spec in fresh]
        written = rows.insert_rows(built)
        due_now = 0
        for row in built:
            if row["idempotency_key"] not in written:
                # Written by a concurrent run between our check and our insert.
                counts["duplicate"] += 1
            elif row["status"] == Message.Status.SKIPPED:
                counts[f"skipped:{row['reason']}"] += 1
            else:
                counts["queued"] += 1
                due_now += row["next_attempt_at"] <= now
        if wake_senders:
            _queue_senders(due_now)
    return +counts


def enqueue_message(
    kind: str,
    *,
    channel: str,
    client=None,
    lead=None,
    user=None,
    about=None,
    period: str = "",
    context: dict | None = None,
    send_after: dt.datetime | None = None,
    language: str | None = None,
    by=None,
    template: MessageTemplate | None = None,
) -> Message:
    """Put one message in the outbox, or find the one already there.

    Exactly one recipient: ``client``, ``lead`` or staff ``user``. The message is
    rendered from the active MessageTemplate for (kind, channel, language) — the
    recipient's preferred language unless ``language`` is given, English when that
    language has no template. ``about`` (any model instance) and ``period`` make the
    idempotency key (see ``idempotency_key``): a repeat call with the same kind,
    recipient, about and period returns the existing row and changes nothing.

    A message that may not go (no address, opted out, no marketing consent, over a
    cap, due at or after its ``send_before`` — a reminder of something that will
    have begun —, no template, a template error) is still written, as ``skipped``
    with its reason. A queued message due now (``send_after`` None or past) gets a
    ``send_message`` task after commit; later ones are picked up by the every-minute
    ``send_due_messages``. ``by`` is the staff member who asked, if any;
    ``template`` forces a template instead of the lookup (test sends).

    Call it inside the caller's transaction: the row and the send task commit (or
    roll back) with the change that caused them.
    """
    spec = MessageSpec(
        kind,
        channel,
        client=client,
        lead=lead,
        user=user,
        about=about,
        period=period,
        context=context,
        send_after=send_after,
        language=language,
        template=template,
    )
    existing = Message.objects.filter(idempotency_key=spec.key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    with transaction.atomic():
        rows.insert_rows([_Batch([spec], now=now).build(spec, by=by)])
        message = Message.objects.get(idempotency_key=spec.key)
        if message.status == Message.Status.QUEUED and message.next_attempt_at <= now:
            from ..tasks import send_message

            pk = message.pk
            transaction.on_commit(lambda: send_message.delay(pk))
    return message
