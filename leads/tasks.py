from celery import shared_task

from . import services


@shared_task(name="leads.tasks.process_follow_ups", acks_late=True)
def process_follow_ups() -> dict:
    """Every 15 minutes: missed first contacts, overdue follow-ups, reminders,
    escalations (idempotent)."""
    run = services.process_follow_ups()
    return {
        "first_contacts_missed": run.opened,
        "overdue": run.overdue,
        "reminded": run.reminded,
        "escalated": run.escalated,
    }


@shared_task(name="leads.tasks.run_import", acks_late=True)
def run_import_task(import_log_id: int) -> str:
    """Run a queued lead import; a done or running import is not run again."""
    from .importing import run_import

    return run_import(import_log_id).status


@shared_task(name="leads.tasks.sweep_stale_imports", acks_late=True)
def sweep_stale_imports() -> dict:
    """Every 10 minutes: re-queue lost queued imports, fail those whose worker died."""
    from .importing import sweep_stale_imports as sweep

    result = sweep()
    return {"requeued": result.requeued, "failed": result.failed}
