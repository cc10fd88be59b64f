"""Trial factories, with the scheduling rows they stand on.

``TrialFactory`` writes the row directly (its times follow the group's lesson on
``lesson_date``, and no reminders are planned); go through trials.services
(``schedule_trial``) for the rules, the reminders and the lead's status.
"""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from clients.tests.factories import UserFactory
from leads.tests.factories import LeadFactory, SalespersonFactory
from scheduling.models import Course, Enrollment, Group, GroupStatus, Room
from scheduling.patterns import DayPattern
from trials.models import Trial, TrialReminder, TrialStatus


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    name = factory.Sequence(lambda n: f"Trial course {n}")
    price = Decimal("120.00")
    lesson_minutes = 60


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    name = factory.Sequence(lambda n: f"Trial room {n}")
    capacity = 20


class GroupFactory(factory.django.DjangoModelFactory):
    """An active group meeting every day from 18:00 to 19:00 for a year from today."""

    class Meta:
        model = Group

    course = factory.SubFactory(CourseFactory)
    name = factory.Sequence(lambda n: f"Evening {n}")
    day_pattern = DayPattern.CUSTOM
    weekdays = "1,2,3,4,5,6,7"
    start_time = dt.time(18, 0)
    end_time = dt.time(19, 0)
    room = factory.SubFactory(RoomFactory)
    capacity = 3
    start_date = factory.LazyFunction(timezone.localdate)
    end_date = factory.LazyAttribute(lambda o: o.start_date + dt.timedelta(days=365))
    status = GroupStatus.ACTIVE


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    client = factory.SubFactory("clients.tests.factories.ClientFactory")
    group = factory.SubFactory(GroupFactory)
    start_date = factory.LazyAttribute(lambda o: o.group.start_date)


class TrialFactory(factory.django.DjangoModelFactory):
    """A scheduled trial in tomorrow's lesson of a new group."""

    class Meta:
        model = Trial

    lead = factory.SubFactory(LeadFactory)
    group = factory.SubFactory(GroupFactory)
    lesson_date = factory.LazyFunction(
        lambda: timezone.localdate() + dt.timedelta(days=1)
    )
    starts_at = factory.LazyAttribute(lambda o: o.group.lesson_start(o.lesson_date))
    ends_at = factory.LazyAttribute(lambda o: o.group.lesson_end(o.lesson_date))
    salesperson = factory.SubFactory(SalespersonFactory)
    status = TrialStatus.SCHEDULED


class TrialReminderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrialReminder

    trial = factory.SubFactory(TrialFactory)
    kind = TrialReminder.Kind.BEFORE_TO_LEAD
    due_at = factory.LazyAttribute(lambda o: o.trial.starts_at - dt.timedelta(hours=2))


__all__ = [
    "CourseFactory",
    "EnrollmentFactory",
    "GroupFactory",
    "LeadFactory",
    "RoomFactory",
    "SalespersonFactory",
    "TrialFactory",
    "TrialReminderFactory",
    "UserFactory",
]
