from celery import shared_task

from . import services


@shared_task(name="clients.tasks.reconcile_client_figures", acks_late=True)
def reconcile_client_figures() -> dict:
    """Nightly: recompute every client's figures from source rows and fix drift."""
    result = services.reconcile_client_figures()
    return {"checked": result.checked, "corrected": result.corrected}
