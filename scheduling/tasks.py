import datetime as dt

from celery import shared_task

from . import services


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


@shared_task(name="scheduling.tasks.refresh_room_occupancy", acks_late=True)
def refresh_room_occupancy(
    group_ids: list[int] | None = None,
    start: str | None = None,
    end: str | None = None,
) -> int:
    """Rebuild room occupancy rows: hourly for every room over the coming
    ``SCHEDULING_OCCUPANCY_WEEKS`` weeks, and for single groups after their
    enrolments or trials change. Idempotent; returns the rows written."""
    return services.refresh_room_occupancy(
        start=_date(start), end=_date(end), group_ids=group_ids
    )
