from celery import shared_task

from . import services


@shared_task(name="packages.tasks.expire_package_purchases", acks_late=True)
def expire_package_purchases() -> int:
    """Daily: active purchases past their validity become expired (idempotent)."""
    return services.expire_purchases()
