import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from crm_project.setup import DEFAULT_SCHEDULES
from scheduling.models import RoomOccupancy
from scheduling.patterns import DayPattern
from scheduling.tasks import refresh_room_occupancy

from .factories import EnrollmentFactory, GroupFactory

pytestmark = pytest.mark.django_db


def daily_group_from_today(**fields):
    today = timezone.localdate()
    return GroupFactory(
        day_pattern=DayPattern.CUSTOM,
        weekdays="1,2,3,4,5,6,7",
        start_date=today,
        end_date=today + dt.timedelta(days=365),
        **fields,
    )


def test_the_beat_job_fills_the_coming_weeks_for_every_room(settings):
    settings.SCHEDULING_OCCUPANCY_WEEKS = 2
    group = daily_group_from_today(capacity=5)
    EnrollmentFactory(group=group, start_date=group.start_date)
    daily_group_from_today()

    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    last = monday + dt.timedelta(days=13)  # the end of next week
    lessons = (last - today).days + 1  # the groups start today

    written = refresh_room_occupancy.delay().get()

    assert written == 2 * lessons
    rows = RoomOccupancy.objects.filter(group=group)
    assert rows.count() == lessons
    dates = rows.values_list("date", flat=True)
    assert (min(dates), max(dates)) == (today, last)
    assert set(rows.values_list("taken", flat=True)) == {1}


def test_running_the_job_twice_leaves_the_same_rows():
    daily_group_from_today()
    refresh_room_occupancy.delay().get()
    before = sorted(RoomOccupancy.objects.values_list("pk", "date", "taken"))

    refresh_room_occupancy.delay().get()

    assert sorted(RoomOccupancy.objects.values_list("pk", "date", "taken")) == before


def test_the_task_refreshes_only_the_groups_and_dates_it_is_given():
    group = daily_group_from_today()
    other = daily_group_from_today()
    day = timezone.localdate() + dt.timedelta(days=3)

    written = refresh_room_occupancy.delay(
        group_ids=[group.pk], start=day.isoformat(), end=day.isoformat()
    ).get()

    assert written == 1
    assert list(RoomOccupancy.objects.values_list("group_id", "date")) == [
        (group.pk, day)
    ]
    assert not RoomOccupancy.objects.filter(group=other).exists()


def test_the_room_occupancy_schedule_runs_hourly_after_setup():
    PeriodicTask.objects.filter(task="scheduling.tasks.refresh_room_occupancy").delete()

    call_command("setup_schedules", verbosity=0)

    task = PeriodicTask.objects.get(task="scheduling.tasks.refresh_room_occupancy")
    assert (task.crontab.minute, task.crontab.hour) == ("5", "*")
    assert task.enabled
    assert "Every hour" in task.description
    assert task.name in {item.name for item in DEFAULT_SCHEDULES}
