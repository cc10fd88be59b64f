import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

NY = ZoneInfo("America/New_York")
# A Monday morning; the factories' groups meet every day from 18:00 to 19:00.
NOW = dt.datetime(2030, 3, 4, 9, 0, tzinfo=NY)
TODAY = NOW.date()


@pytest.fixture
def clock(settings):
    """The clock stopped at NOW in the business time zone; ``clock.move_to(...)``."""
    settings.TIME_ZONE = "America/New_York"
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller
