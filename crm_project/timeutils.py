"""Dates as the business sees them: "today" and "this week" in settings.TIME_ZONE."""

import datetime as dt

from django.utils import timezone


def business_today() -> dt.date:
    return timezone.localdate()


def week_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Aware [Monday 00:00, next Monday 00:00) of the ISO week holding ``day``."""
    monday = day - dt.timedelta(days=day.weekday())
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(
        monday + dt.timedelta(days=7), dt.time.min, tzinfo=tz
    )


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time.min, tzinfo=tz
    )
