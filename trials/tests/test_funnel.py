import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from clients.tests.factories import ClientFactory
from crm_project.kpi import kpi_colour
from leads.models import Source
from scheduling.models import WaitlistEntry
from trials.models import TrialResult, TrialStatus
from trials.selectors import funnel_by_salesperson, funnel_by_source

from .conftest import NY
from .factories import (
    EnrollmentFactory,
    GroupFactory,
    LeadFactory,
    SalespersonFactory,
    TrialFactory,
)

pytestmark = pytest.mark.django_db

MARCH = (dt.date(2030, 3, 1), dt.date(2030, 3, 31))
COUNTS = ("leads", "trials", "attended", "no_shows", "offers", "enrolments")


def received(day: int, hour: int = 12, month: int = 3) -> dt.datetime:
    return dt.datetime(2030, month, day, hour, 0, tzinfo=NY)


@pytest.fixture
def dataset():
    """Ten leads whose every figure is counted by hand in the tests below.

    In March (business time zone):
      Alice, Instagram: L1 came and enrolled; L2 came, got an offer; L3 missed it;
                        L4 cancelled; L5 never booked.
      Bob, walk-in:     L6 missed one trial, came to the next, then said no;
                        L7 is booked for later.
      unassigned, Facebook: L8 came, accepted, but the group was full (waitlist).
    Outside March: L9 (Feb 28, 23:30) and L10 (Apr 1, 00:10) enrolled; not counted.
    """
    alice = SalespersonFactory(first_name="Alice", last_name="Adams")
    bob = SalespersonFactory(first_name="Bob", last_name="Brown")
    group = GroupFactory(start_date=dt.date(2030, 1, 1), capacity=20)
    day = dt.date(2030, 3, 20)

    def lead(n, source, seller, when):
        return LeadFactory(
            full_name=f"L{n}", source=source, assigned_to=seller, received_at=when
        )

    def trial(the_lead, status, result=TrialResult.PENDING, *, on=day, **extra):
        return TrialFactory(
            lead=the_lead,
            group=group,
            lesson_date=on,
            status=status,
            result=result,
            salesperson=the_lead.assigned_to,
            **extra,
        )

    def enrolled(the_lead):
        trial(
            the_lead,
            TrialStatus.ATTENDED,
            TrialResult.ACCEPTED,
            enrollment=EnrollmentFactory(group=group),
        )

    enrolled(lead(1, Source.INSTAGRAM, alice, received(2)))
    trial(lead(2, Source.INSTAGRAM, alice, received(3)), "attended", "sales_offer")
    trial(lead(3, Source.INSTAGRAM, alice, received(4)), TrialStatus.NO_SHOW)
    trial(lead(4, Source.INSTAGRAM, alice, received(5)), TrialStatus.CANCELLED)
    lead(5, Source.INSTAGRAM, alice, received(6))
    l6 = lead(6, Source.WALK_IN, bob, received(7))
    trial(l6, TrialStatus.NO_SHOW, on=day - dt.timedelta(days=1))
    trial(l6, TrialStatus.ATTENDED, TrialResult.REJECTED)
    trial(lead(7, Source.WALK_IN, bob, received(31, 23)), TrialStatus.SCHEDULED)
    trial(
        lead(8, Source.FACEBOOK, None, received(1, 0)),
        TrialStatus.ATTENDED,
        TrialResult.ACCEPTED,
        waitlist_entry=WaitlistEntry.objects.create(
            client=ClientFactory(), group=group
        ),
    )
    enrolled(lead(9, Source.INSTAGRAM, alice, received(28, 23, month=2)))
    enrolled(
        lead(
            10,
            Source.INSTAGRAM,
            alice,
            received(1, 0, month=4) + dt.timedelta(minutes=10),
        )
    )


def counts(row) -> tuple[int, ...]:
    return tuple(getattr(row, name) for name in COUNTS)


def test_the_funnel_by_source_matches_the_hand_count(
    dataset, django_assert_num_queries
):
    with django_assert_num_queries(1):
        funnel = funnel_by_source(*MARCH)

    by_label = {row.label: counts(row) for row in funnel.rows}
    assert by_label == {
        "Facebook": (1, 1, 1, 0, 1, 0),
        "Instagram": (5, 3, 2, 1, 2, 1),
        "Walk-in": (2, 2, 1, 1, 1, 0),
    }
    assert counts(funnel.total) == (8, 6, 4, 2, 4, 1)


def test_the_funnel_by_salesperson_matches_the_hand_count(
    dataset, django_assert_num_queries
):
    with django_assert_num_queries(1):
        funnel = funnel_by_salesperson(*MARCH)

    by_label = {row.label: counts(row) for row in funnel.rows}
    assert by_label == {
        "Alice Adams": (5, 3, 2, 1, 2, 1),
        "Bob Brown": (2, 2, 1, 1, 1, 0),
        "Unassigned": (1, 1, 1, 0, 1, 0),
    }
    assert counts(funnel.total) == (8, 6, 4, 2, 4, 1)


def test_percents_and_their_colours(dataset):
    funnel = funnel_by_source(*MARCH)
    instagram = next(row for row in funnel.rows if row.label == "Instagram")
    walk_in = next(row for row in funnel.rows if row.label == "Walk-in")

    # booked 3/5, came 2/3, enrolled of those who came 1/2, conversion 1/5
    assert instagram.percents() == [
        (60.0, "green"),
        (66.7, "green"),
        (50.0, "green"),
        (20.0, "green"),
    ]
    assert walk_in.conversion_percent == 0.0
    # the total: conversion 1/8
    assert funnel.total.percents()[3] == (12.5, "orange")


def test_a_salesperson_sees_the_funnel_of_their_own_leads(dataset):
    bob = get_user_model().objects.get(first_name="Bob")

    funnel = funnel_by_source(*MARCH, salesperson=bob)

    assert [(row.label, counts(row)) for row in funnel.rows] == [
        ("Walk-in", (2, 2, 1, 1, 1, 0))
    ]


def test_an_empty_range_has_no_rows_and_no_percents():
    funnel = funnel_by_salesperson(*MARCH)

    assert funnel.rows == []
    assert funnel.total.percents() == [(None, "")] * 4


@pytest.mark.parametrize(
    ("percent", "colour"),
    [
        (100, "green"),
        (20, "green"),
        (19.9, "orange"),
        (10, "orange"),
        (9.9, "red"),
        (0, "red"),
        (None, ""),
    ],
)
def test_kpi_colours_green_from_20_orange_from_10_red_below(percent, colour):
    assert kpi_colour(percent) == colour
