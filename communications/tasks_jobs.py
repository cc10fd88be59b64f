"""Thin beat tasks for the automated jobs (communications.jobs): each runs one job
through ``run_job``, which records a JobRun. Safe to run twice or at once: the
outbox's idempotency keys let each message in once. Imported by tasks.py so that
workers register them."""

import logging

from celery import shared_task

from .jobs import run_job
from .models import JobRun

logger = logging.getLogger(__name__)

__all__ = [
    "send_appointment_reminders",
    "send_birthday_greetings",
    "send_due_scheduled_messages",
    "send_late_appointment_reminders",
    "send_package_expiry_warnings",
    "send_post_visit_surveys",
    "send_reactivation_messages",
]

LIMITS = {"soft_time_limit": 600, "time_limit": 660}


def _run(job: str, **options) -> dict:
    run = run_job(job, **options)
    if run.pk is None:  # nothing was due: not logged (see run_job's keep_empty)
        return {"status": run.status}
    summary = {
        "run": run.pk,
        "status": run.status,
        "enqueued": run.enqueued,
        "duplicates": run.duplicates,
        "skipped": run.skipped,
        "failed": run.failed,
    }
    label = run.get_job_display()
    if run.status == JobRun.Status.FAILED:
        logger.error("%s failed: %s (%s)", label, run.error, summary)
    else:
        logger.info(
            "%s: %d enqueued, %d already enqueued, skipped %s",
            label,
            run.enqueued,
            run.duplicates,
            run.skipped or "none",
        )
    return summary


@shared_task(**LIMITS)
def send_appointment_reminders() -> dict:
    """09:00: the next day's appointments (and any within 24 hours)."""
    return _run(JobRun.Job.APPOINTMENT_REMINDERS)


@shared_task(**LIMITS)
def send_late_appointment_reminders() -> dict:
    """Hourly: appointments within 24 hours without a reminder yet."""
    return _run(JobRun.Job.APPOINTMENT_REMINDERS, next_24_hours_only=True)


@shared_task(**LIMITS)
def send_package_expiry_warnings() -> dict:
    return _run(JobRun.Job.PACKAGE_EXPIRY)


@shared_task(**LIMITS)
def send_birthday_greetings() -> dict:
    return _run(JobRun.Job.BIRTHDAYS)


@shared_task(**LIMITS)
def send_reactivation_messages() -> dict:
    return _run(JobRun.Job.REACTIVATION)


@shared_task(**LIMITS)
def send_post_visit_surveys() -> dict:
    return _run(JobRun.Job.POST_VISIT_SURVEYS)


@shared_task(soft_time_limit=50, time_limit=58)
def send_due_scheduled_messages() -> dict:
    """Every minute: due scheduled messages and staff reminders."""
    return _run(JobRun.Job.SCHEDULED_MESSAGES, keep_empty=False)
