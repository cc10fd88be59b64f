"""What every automated job shares: the job interface, chunked enqueueing that
records what failed, and the read-only preview of who a job would message."""

import abc
import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import MARKETING_KINDS, Message, MessageTemplate, Reason
from ..services import MessageSpec, enqueue_messages, policy
from ..services.enqueue import address_for

logger = logging.getLogger("communications.jobs")

# Specs enqueued per transaction: a failure loses (and reports) one chunk, not a run.
CHUNK = 500


@dataclass
class Outcome:
    """What one run did, filled in as it goes (``run_job`` copies it to a JobRun)."""

    counts: Counter = field(default_factory=Counter)
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, counts: Counter) -> None:
        self.counts.update(counts)

    def fail(self, items: int, exc: BaseException) -> None:
        self.failed += items
        self.errors.append(f"{type(exc).__name__}: {exc}")
        logger.error("Job chunk of %d failed: %s", items, exc, exc_info=exc)

    @property
    def skipped(self) -> dict[str, int]:
        return {
            key.split(":", 1)[1]: n
            for key, n in sorted(self.counts.items())
            if key.startswith("skipped:") and n
        }


@dataclass
class PreviewRow:
    """One recipient a job would handle now, and what would happen."""

    client: object
    channel: str
    address: str
    outcome: str  # "queue", "skip", "duplicate", "staff"
    reason: str = ""
    about: object = None

    @property
    def reason_label(self) -> str:
        if self.outcome == "duplicate":
            return str(_("Already in the outbox (sent or queued earlier)"))
        if self.outcome == "staff":
            return str(_("Reminder for staff: listed on the dashboard"))
        if self.reason:
            return str(Reason(self.reason).label)
        return ""


class Job(abc.ABC):
    """An automated job: ``run`` enqueues what is due now (recording the outcome),
    ``preview`` explains it without writing anything."""

    name: str = ""
    tasks: tuple[str, ...] = ()
    description = ""

    @abc.abstractmethod
    def run(self, now: dt.datetime, *, by, outcome: Outcome, **options) -> None:
        """Enqueue what is due at ``now``; add counts and failures to ``outcome``."""

    @abc.abstractmethod
    def preview(self, now: dt.datetime, **options) -> list[PreviewRow]:
        """Who would be messaged at ``now``, and how; writes nothing."""


class SpecJob(Job):
    """A job that is a read-only list of messages (``specs``), enqueued in chunks."""

    @abc.abstractmethod
    def specs(self, now: dt.datetime, **options) -> list[MessageSpec]:
        """What the job would enqueue at ``now`` (read-only)."""

    def run(self, now: dt.datetime, *, by, outcome: Outcome, **options) -> None:
        # A savepoint: a failing query must not poison the caller's transaction.
        with transaction.atomic():
            specs = self.specs(now, **options)
        enqueue_in_chunks(specs, by=by, outcome=outcome)

    def preview(self, now: dt.datetime, **options) -> list[PreviewRow]:
        return preview_specs(self.specs(now, **options), now=now)


def chunked(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def enqueue_in_chunks(specs: list[MessageSpec], *, by, outcome: Outcome) -> None:
    for chunk in chunked(specs):
        try:
            outcome.add(enqueue_messages(chunk, by=by))
        except Exception as exc:  # recorded on the run, the next chunk still goes
            outcome.fail(len(chunk), exc)


def preview_specs(specs: list[MessageSpec], *, now: dt.datetime) -> list[PreviewRow]:
    """What ``enqueue_messages`` would decide for each spec, without writing or
    rendering: already in the outbox, or skipped with the reason it would record
    (no address, opted out, no consent, capped, too late, no template), or queued."""
    if not specs:
        return []
    existing = set(
        Message.objects.filter(idempotency_key__in=[s.key for s in specs]).values_list(
            "idempotency_key", flat=True
        )
    )
    fresh = [s for s in specs if s.key not in existing]
    facts = policy.RecipientFacts.load(
        client_ids={s.client.pk for s in fresh if s.client is not None},
        kinds={s.kind for s in fresh},
        marketing_client_ids={
            s.client.pk
            for s in fresh
            if s.client is not None and s.kind in MARKETING_KINDS
        },
        channels={s.channel for s in fresh},
        now=now,
    )
    templates = set(
        MessageTemplate.objects.filter(
            is_active=True,
            kind__in={s.kind for s in fresh},
            channel__in={s.channel for s in fresh},
        ).values_list("kind", "channel", "language")
    )
    rows, seen = [], set()
    for spec in specs:
        address = address_for(spec.channel, client=spec.client)
        row = PreviewRow(
            client=spec.client,
            channel=spec.channel,
            address=address,
            outcome="queue",
            about=spec.about,
        )
        if spec.key in existing or spec.key in seen:
            row.outcome = "duplicate"
        else:
            seen.add(spec.key)
            reason = policy.refusal(
                facts,
                kind=spec.kind,
                channel=spec.channel,
                who=spec.who,
                address=address,
            )
            if not reason and policy.too_late(spec.send_before, spec.send_after or now):
                reason = Reason.TOO_LATE
            language = facts.language(spec.client, spec.language)
            if not reason and not (
                (spec.kind, spec.channel, language) in templates
                or (spec.kind, spec.channel, "en") in templates
            ):
                reason = Reason.TEMPLATE_MISSING
            if reason:
                row.outcome, row.reason = "skip", reason
            elif spec.kind in MARKETING_KINDS:
                facts.count_one(spec.client.pk, spec.channel)
        rows.append(row)
    return rows
