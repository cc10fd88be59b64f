"""Day patterns: on which calendar dates a group meets.

Dates are plain calendar dates as the business sees them (settings.TIME_ZONE); a
pattern never looks at a clock, so DST changes cannot move a lesson to another day.
"""

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


class DayPattern(models.TextChoices):
    ODD_DAYS = "odd", _("Odd calendar days")
    EVEN_DAYS = "even", _("Even calendar days")
    MON = "mon", _("Mondays")
    TUE = "tue", _("Tuesdays")
    WED = "wed", _("Wednesdays")
    THU = "thu", _("Thursdays")
    FRI = "fri", _("Fridays")
    SAT = "sat", _("Saturdays")
    SUN = "sun", _("Sundays")
    MON_WED_FRI = "mon_wed_fri", _("Monday, Wednesday, Friday")
    TUE_THU = "tue_thu", _("Tuesday, Thursday")
    CUSTOM = "custom", _("Chosen weekdays")


# ISO weekday numbers (Monday = 1) of the fixed weekday patterns.
PATTERN_WEEKDAYS: dict[str, frozenset[int]] = {
    DayPattern.MON: frozenset({1}),
    DayPattern.TUE: frozenset({2}),
    DayPattern.WED: frozenset({3}),
    DayPattern.THU: frozenset({4}),
    DayPattern.FRI: frozenset({5}),
    DayPattern.SAT: frozenset({6}),
    DayPattern.SUN: frozenset({7}),
    DayPattern.MON_WED_FRI: frozenset({1, 3, 5}),
    DayPattern.TUE_THU: frozenset({2, 4}),
}


def pattern_matches(
    pattern: str, day: dt.date, custom_weekdays: frozenset[int] | None = None
) -> bool:
    """Whether a group on ``pattern`` meets on ``day``.

    Odd and even follow the day of the month, so the 31st and the 1st are both odd.
    """
    if pattern == DayPattern.ODD_DAYS:
        return day.day % 2 == 1
    if pattern == DayPattern.EVEN_DAYS:
        return day.day % 2 == 0
    if pattern == DayPattern.CUSTOM:
        return day.isoweekday() in (custom_weekdays or frozenset())
    return day.isoweekday() in PATTERN_WEEKDAYS[pattern]
