"""Per-lesson bookings that later apps add to a group's places (trial students).

Scheduling cannot import the apps that build on it (trials → scheduling), so they
register a provider here in their ``AppConfig.ready()``. A provider takes group ids and
a date range and returns how many places each (group id, lesson date) holds.
"""

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable

LessonBookings = Callable[[list[int], dt.date, dt.date], dict[tuple[int, dt.date], int]]

_providers: list[LessonBookings] = []


def register_lesson_bookings(provider: LessonBookings) -> None:
    if provider not in _providers:
        _providers.append(provider)


def lesson_bookings(
    group_ids: Iterable[int], start: dt.date, end: dt.date
) -> Counter[tuple[int, dt.date]]:
    """Places held for single lessons in [start, end], by (group id, date)."""
    ids = list(group_ids)
    total: Counter[tuple[int, dt.date]] = Counter()
    if not ids:
        return total
    for provider in _providers:
        total.update(provider(ids, start, end))
    return total
