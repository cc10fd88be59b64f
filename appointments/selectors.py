import datetime as dt

from crm_project.timeutils import day_bounds

from .models import Appointment


def appointments_on(day: dt.date, *, limit: int = 100):
    """The day's appointments in start order, with what the list shows joined."""
    start, end = day_bounds(day)
    return list(
        Appointment.objects.between(start, end)
        .select_related("client", "service", "staff")
        .order_by("start_at", "id")[:limit]
    )
