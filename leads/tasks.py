from celery import shared_task

from . import services


@shared_task(name="leads.tasks.process_follow_ups", acks_late=True)
def process_follow_ups() -> dict:
    """Every 15 minutes: overdue follow-ups, reminders, escalations (idempotent)."""
    run = services.process_follow_ups()
    return {
        "overdue": run.overdue,
        "reminded": run.reminded,
        "escalated": run.escalated,
    }
