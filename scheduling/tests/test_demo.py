import datetime as dt
import random

import pytest
from django.utils import timezone

from clients.tests.factories import ClientFactory, UserFactory
from scheduling import services
from scheduling.demo import seed_scheduling
from scheduling.models import (
    GREEN,
    ORANGE,
    RED,
    Attendance,
    Enrollment,
    Group,
    RoomOccupancy,
    WaitlistEntry,
)
from scheduling.selectors import group_fill

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    clients = [ClientFactory().pk for _ in range(40)]
    teachers = [UserFactory().pk for _ in range(2)]
    return seed_scheduling(
        clients, teachers, today=timezone.localdate(), rng=random.Random(3)
    )


def test_the_demo_groups_show_every_colour_and_a_waitlist(seeded):
    fills = {
        group.name: group_fill(group.enrollments.count(), group.capacity)[1]
        for group in Group.objects.all()
    }

    assert {GREEN, ORANGE, RED} <= set(fills.values())
    assert WaitlistEntry.objects.filter(group__name="Tuesday & Thursday").count() == 3
    assert seeded["scheduling_enrollment"] == Enrollment.objects.count()


def test_the_demo_groups_never_clash_in_their_rooms(seeded):
    for group in Group.objects.all():
        assert services.room_clashes(group) == [], group


def test_the_demo_has_past_attendance_and_coming_occupancy(seeded):
    assert Attendance.objects.count() == seeded["scheduling_attendance"] > 100
    assert not Attendance.objects.filter(lesson_date__gte=timezone.localdate()).exists()
    assert RoomOccupancy.objects.count() == seeded["scheduling_roomoccupancy"] > 0
    assert RoomOccupancy.objects.filter(
        date__gt=timezone.localdate() + dt.timedelta(days=20)
    ).exists()


def test_seeding_again_adds_nothing(seeded):
    groups = Group.objects.count()

    again = seed_scheduling(
        [ClientFactory().pk], [], today=timezone.localdate(), rng=random.Random(3)
    )

    assert again == {}
    assert Group.objects.count() == groups
