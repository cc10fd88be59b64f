"""Enrolment races, with real threads on PostgreSQL: every thread has its own
connection and transaction, as web and worker processes do, and a barrier releases
them together."""

import pytest

from clients.models import Client
from clients.tests.factories import ClientFactory
from crm_project.tests.concurrency import race
from scheduling import services
from scheduling.models import Enrollment, Group, WaitlistEntry, WaitlistStatus
from scheduling.selectors import enrolled_places

from .factories import EnrollmentFactory, GroupFactory, WaitlistEntryFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_clients_racing_for_five_free_places_get_five_and_fifteen_waitlisted():
    group = GroupFactory(capacity=8)
    EnrollmentFactory.create_batch(3, group=group)  # 5 places left
    clients = [ClientFactory() for _ in range(20)]

    def enrol(i):
        mine = Group.objects.get(pk=group.pk)
        client = Client.objects.get(pk=clients[i].pk)
        return [services.enroll_client(client, mine, by=None)]

    outcomes = race(20, enrol)

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert not errors, errors
    enrolled = [o for o in outcomes if isinstance(o, Enrollment)]
    waitlisted = [o for o in outcomes if isinstance(o, WaitlistEntry)]
    assert (len(enrolled), len(waitlisted)) == (5, 15)
    assert enrolled_places(group) == 8
    assert Enrollment.objects.filter(group=group).count() == 8
    assert (
        WaitlistEntry.objects.filter(group=group, status=WaitlistStatus.WAITING).count()
        == 15
    )


def test_one_client_enrolled_from_five_threads_gets_one_place():
    group = GroupFactory(capacity=3)
    client = ClientFactory()

    def enrol(_):
        return [services.enroll_client(client, group, by=None).pk]

    outcomes = race(5, enrol)

    assert len(set(outcomes)) == 1, outcomes
    assert Enrollment.objects.filter(group=group).count() == 1


def test_three_students_leaving_at_once_enrol_the_first_three_waiting():
    group = GroupFactory(capacity=3)
    enrollments = EnrollmentFactory.create_batch(3, group=group)
    waiting = [WaitlistEntryFactory(group=group) for _ in range(5)]

    def leave(i):
        mine = Enrollment.objects.get(pk=enrollments[i].pk)
        return [services.leave_enrollment(mine, by=None)]

    outcomes = race(3, leave)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    statuses = [WaitlistEntry.objects.get(pk=w.pk).status for w in waiting]
    assert statuses == ["enrolled"] * 3 + ["waiting"] * 2
    assert enrolled_places(group) == 3
