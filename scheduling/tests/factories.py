"""Scheduling factories. They write rows directly; go through scheduling.services
(``save_group``, ``enroll_client``) to apply the capacity and clash rules."""

import datetime as dt
from decimal import Decimal

import factory

from clients.tests.factories import ClientFactory
from scheduling.models import (
    Attendance,
    AttendanceStatus,
    Course,
    Enrollment,
    Group,
    GroupStatus,
    Room,
    WaitlistEntry,
)
from scheduling.patterns import DayPattern

# A Monday well ahead, so groups made with the defaults are running and in the future.
START = dt.date(2030, 1, 7)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Course {n}")
    price = Decimal("120.00")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 20


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    course = factory.SubFactory(CourseFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    day_pattern = DayPattern.MON_WED_FRI
    start_time = dt.time(18, 0)
    end_time = dt.time(19, 0)
    room = factory.SubFactory(RoomFactory)
    capacity = 10
    start_date = START
    end_date = factory.LazyAttribute(lambda g: g.start_date + dt.timedelta(days=180))
    status = GroupStatus.ACTIVE


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    client = factory.SubFactory(ClientFactory)
    group = factory.SubFactory(GroupFactory)
    start_date = factory.LazyAttribute(lambda e: e.group.start_date)


class WaitlistEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WaitlistEntry

    client = factory.SubFactory(ClientFactory)
    group = factory.SubFactory(GroupFactory)


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    enrollment = factory.SubFactory(EnrollmentFactory)
    lesson_date = factory.LazyAttribute(lambda a: a.enrollment.group.start_date)
    status = AttendanceStatus.PRESENT
