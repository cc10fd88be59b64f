"""The automated jobs: one module per job, and ``run_job`` that runs and records them.

    run_job(job, *, now=None, by=None, preview=False, **options) -> JobRun | Preview
    sweep_abandoned_runs(*, now=None) -> int
    JOBS: {JobRun.Job value: Job}
    answer_survey(appointment, *, rating, comment="") -> (appointment, recorded)
    mark_scheduled_message_done(scheduled, *, by) / cancel_scheduled_message(...)
    due_for(user): due scheduled messages and reminders for the dashboard

Each job builds ``MessageSpec``s and calls ``enqueue_messages``; the idempotency keys
(kind, recipient, object, period) make a second run, or two at once, write nothing
new. Times are judged in the business time zone (settings.TIME_ZONE).
"""

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from ..models import JobRun
from .base import Job, Outcome, PreviewRow
from .birthdays import Birthdays
from .expiry import PackageExpiry
from .reactivation import Reactivation
from .reminders import AppointmentReminders
from .scheduled import (
    ScheduledMessages,
    cancel_scheduled_message,
    due_for,
    mark_scheduled_message_done,
)
from .surveys import PostVisitSurveys, answer_survey

logger = logging.getLogger("communications.jobs")

JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        AppointmentReminders(),
        PackageExpiry(),
        Birthdays(),
        Reactivation(),
        PostVisitSurveys(),
        ScheduledMessages(),
    )
}


@dataclass
class Preview:
    """Who a job would message right now, and what would happen to each."""

    job: str
    now: dt.datetime
    rows: list[PreviewRow] = field(default_factory=list)
    error: str = ""

    @property
    def counts(self) -> Counter:
        return Counter(
            f"skipped:{r.reason}" if r.outcome == "skip" else r.outcome
            for r in self.rows
        )


def run_job(
    job: str,
    *,
    now: dt.datetime | None = None,
    by=None,
    preview=False,
    keep_empty=True,
    **options,
):
    """Run one job now and record it; returns the JobRun.

    The JobRun is written before the job starts (status ``running``) and completed
    after: enqueued, duplicates (already in the outbox), skipped by reason, failed.
    A job that raises is recorded as ``failed`` with the error (logged too), never
    silently; the chunks enqueued before the error stay enqueued. ``by`` is the
    staff member who ran it (None: the schedule). ``now`` stands in for the clock
    when judging what is due (tests, previews); ``options`` go to the job
    (``next_24_hours_only=True`` for the hourly reminder pass). ``keep_empty=False``
    (the every-minute scheduled messages) drops the record of a run that found
    nothing to do and met no error, so the log is not a row a minute. Before it
    starts, runs left ``running`` by a killed worker are marked ``abandoned``
    (``sweep_abandoned_runs``).

    ``preview=True`` writes nothing and returns a ``Preview``: each recipient, the
    channel, and whether the message would be queued, skipped (why) or is already in
    the outbox.
    """
    definition = JOBS[job]
    now = now or timezone.now()
    if preview:
        result = Preview(job=job, now=now)
        try:
            result.rows = definition.preview(now, **options)
        except Exception as exc:  # shown to staff instead of a server error
            result.error = f"{type(exc).__name__}: {exc}"
        return result
    sweep_abandoned_runs(now=timezone.now())
    run = JobRun.objects.create(job=job, triggered_by=by)
    outcome = Outcome()
    try:
        definition.run(now, by=by, outcome=outcome, **options)
    except Exception as exc:  # recorded below, with whatever the chunks did
        outcome.fail(0, exc)
    run.status = JobRun.Status.FAILED if outcome.errors else JobRun.Status.DONE
    run.finished_at = timezone.now()
    run.enqueued = outcome.counts.get("queued", 0)
    run.duplicates = outcome.counts.get("duplicate", 0)
    run.skipped = outcome.skipped
    run.failed = outcome.failed
    run.error = "\n".join(outcome.errors)
    if not keep_empty and run.status == JobRun.Status.DONE and not outcome.counts:
        JobRun.objects.filter(pk=run.pk).delete()
        run.pk = None
        return run
    run.save()
    return run


def run_timeout() -> dt.timedelta:
    return dt.timedelta(minutes=settings.COMMUNICATIONS_JOB_RUN_TIMEOUT_MINUTES)


def sweep_abandoned_runs(*, now: dt.datetime | None = None) -> int:
    """Mark ``abandoned`` the runs still ``running`` longer than
    COMMUNICATIONS_JOB_RUN_TIMEOUT_MINUTES (default 30): their worker was killed
    (a deploy, the out-of-memory killer, a hard time limit) before ``run_job`` could
    record the outcome. ``error`` says so; ``finished_at`` stays empty, since when it
    stopped is unknown. The messages it enqueued stay in the outbox, and the next
    run enqueues the rest (their idempotency keys keep each one single). Should such
    a run finish after all, its own outcome replaces the mark.

    Called by ``run_job`` each time a job starts (the scheduled messages job: every
    minute). Returns how many runs it marked."""
    now = now or timezone.now()
    timeout = run_timeout()
    minutes = int(timeout.total_seconds() // 60)
    marked = JobRun.objects.filter(
        status=JobRun.Status.RUNNING, started_at__lt=now - timeout
    ).update(
        status=JobRun.Status.ABANDONED,
        error=gettext(
            "Abandoned: still running after %(minutes)d minutes, so the worker "
            "running it stopped before it could record the outcome. What it "
            "enqueued stays in the outbox; the next run enqueues the rest."
        )
        % {"minutes": minutes},
    )
    if marked:
        logger.warning("Job runs abandoned by their worker: %d marked", marked)
    return marked


__all__ = [
    "JOBS",
    "Job",
    "Preview",
    "PreviewRow",
    "answer_survey",
    "cancel_scheduled_message",
    "due_for",
    "mark_scheduled_message_done",
    "run_job",
    "sweep_abandoned_runs",
]
