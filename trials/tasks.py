from celery import shared_task

from . import reminders


@shared_task(name="trials.tasks.send_due_trial_reminders", acks_late=True)
def send_due_trial_reminders() -> dict:
    """Every minute: hand the trial reminders that are due to the outbox (each once,
    however often or concurrently this runs)."""
    run = reminders.send_due_reminders()
    return {
        "sent": run.sent,
        "skipped": run.skipped,
        "cancelled": run.cancelled,
    }
