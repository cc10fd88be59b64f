"""The client figure formulas (clients/figures.py), checked against numbers worked out
by hand. Defaults: NEW_MAX_VISITS 2, VIP at 1500 spent or 25 visits, at risk after 60
idle days, churned after 180; LTV projects 12 months."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from appointments.models import Appointment
from appointments.tests.factories import AppointmentFactory
from clients.figures import SourceAggregates, compute_figures, lifecycle_stage
from clients.figures import lifetime_value as ltv
from clients.figures import rfm_score as rfm
from clients.models import Client
from clients.services import refresh_client_figures
from clients.tests.factories import ClientFactory
from packages.tests.factories import PaymentFactory

Stage = Client.Stage
NY = ZoneInfo("America/New_York")
UTC = dt.UTC
TODAY = dt.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def business_time_zone(settings):
    """The dates below are written for a studio in New York."""
    settings.TIME_ZONE = "America/New_York"


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """A moment on ``day`` in the business time zone, as the database returns it."""
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NY).astimezone(UTC)


def days_ago(n: int, hour: int = 10) -> dt.datetime:
    return at(TODAY - dt.timedelta(days=n), hour)


def agg(
    *,
    visits=0,
    idle=None,
    first_idle=None,
    recent_visits=None,
    spent="0",
    recent_spent=None,
    first_paid=None,
) -> SourceAggregates:
    last = days_ago(idle) if idle is not None else None
    return SourceAggregates(
        visits=visits,
        first_visit_at=days_ago(first_idle) if first_idle is not None else last,
        last_visit_at=last,
        visits_last_year=visits if recent_visits is None else recent_visits,
        spent=Decimal(spent),
        spent_last_year=Decimal(spent if recent_spent is None else recent_spent),
        first_payment_at=first_paid,
    )


# --- Lifecycle stage --------------------------------------------------------------


@pytest.mark.parametrize(
    ("aggregates", "stage"),
    [
        (agg(), Stage.LEAD),
        (agg(spent="850", first_paid=days_ago(1)), Stage.NEW),
        (agg(visits=1, idle=3), Stage.NEW),
        (agg(visits=2, idle=3, spent="130"), Stage.NEW),
        (agg(visits=3, idle=3, spent="195"), Stage.ACTIVE),
        (agg(visits=24, idle=3, spent="1499.99"), Stage.ACTIVE),
        (agg(visits=3, idle=3, spent="1500"), Stage.VIP),
        (agg(visits=25, idle=3, spent="100"), Stage.VIP),
        (agg(visits=1, idle=10, spent="2000"), Stage.VIP),
        (agg(visits=5, idle=59), Stage.ACTIVE),
        (agg(visits=5, idle=60), Stage.AT_RISK),
        (agg(visits=5, idle=179), Stage.AT_RISK),
        (agg(visits=5, idle=180), Stage.CHURNED),
        (agg(visits=40, idle=90, spent="5000"), Stage.AT_RISK),
        (agg(visits=40, idle=200, spent="5000"), Stage.CHURNED),
        (agg(visits=1, idle=70), Stage.AT_RISK),
    ],
)
def test_lifecycle_stage_with_the_default_thresholds(aggregates, stage):
    assert lifecycle_stage(aggregates, TODAY) == stage


def test_lifecycle_thresholds_come_from_settings(settings):
    settings.CRM_LIFECYCLE = {
        "NEW_MAX_VISITS": 4,
        "VIP_MIN_SPENT": Decimal("500"),
        "VIP_MIN_VISITS": 10,
        "AT_RISK_DAYS": 30,
        "CHURNED_DAYS": 90,
    }

    assert lifecycle_stage(agg(visits=4, idle=1, spent="100"), TODAY) == Stage.NEW
    assert lifecycle_stage(agg(visits=5, idle=1, spent="100"), TODAY) == Stage.ACTIVE
    assert lifecycle_stage(agg(visits=5, idle=1, spent="500"), TODAY) == Stage.VIP
    assert lifecycle_stage(agg(visits=10, idle=1), TODAY) == Stage.VIP
    assert lifecycle_stage(agg(visits=5, idle=30), TODAY) == Stage.AT_RISK
    assert lifecycle_stage(agg(visits=5, idle=90), TODAY) == Stage.CHURNED


def test_idle_days_count_from_the_visit_day_in_the_business_time_zone():
    # 21:00 on 16 April in New York is 17 April in UTC; 60 days later is 15 June.
    evening = SourceAggregates(
        visits=5,
        first_visit_at=days_ago(100),
        last_visit_at=at(dt.date(2026, 4, 16), hour=21),
        visits_last_year=5,
    )

    assert lifecycle_stage(evening, TODAY) == Stage.AT_RISK


# --- Lifetime value ---------------------------------------------------------------


def test_ltv_of_an_active_client_adds_a_year_of_average_monthly_spend():
    # 600 spent since 10 January: 5 whole months → 120 a month; × 12 × 100% = 1440.
    aggregates = agg(visits=3, idle=5, spent="600", first_paid=at(dt.date(2026, 1, 10)))

    assert ltv(aggregates, Stage.ACTIVE, TODAY) == Decimal("2040.00")


def test_ltv_of_a_new_client_counts_at_least_three_months_at_half_weight():
    # 850 paid today: tenure 3 months → 283.33 a month; × 12 × 50% = 1700.
    aggregates = agg(spent="850", first_paid=days_ago(0))

    assert ltv(aggregates, Stage.NEW, TODAY) == Decimal("2550.00")


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        # 1200 since 15 June 2025: 12 months → 100 a month; × 12 = 1200 at 100%.
        (Stage.VIP, Decimal("2400.00")),
        (Stage.ACTIVE, Decimal("2400.00")),
        (Stage.NEW, Decimal("1800.00")),
        (Stage.AT_RISK, Decimal("1500.00")),
        (Stage.CHURNED, Decimal("1200.00")),
        (Stage.LEAD, Decimal("1200.00")),
    ],
)
def test_ltv_weights_the_projection_by_stage(stage, expected):
    aggregates = agg(spent="1200", first_paid=at(dt.date(2025, 6, 15)))

    assert ltv(aggregates, stage, TODAY) == expected


def test_ltv_rounds_half_up_to_cents():
    # 100 over 7 months = 14.2857… a month; × 12 = 171.428… → 271.43.
    aggregates = agg(spent="100", first_paid=at(dt.date(2025, 11, 3)))

    assert ltv(aggregates, Stage.ACTIVE, TODAY) == Decimal("271.43")


def test_ltv_without_payments_is_zero():
    assert ltv(agg(visits=4, idle=2), Stage.ACTIVE, TODAY) == Decimal("0.00")


def test_ltv_horizon_comes_from_settings(settings):
    settings.CRM_LTV_HORIZON_MONTHS = 24
    aggregates = agg(spent="600", first_paid=at(dt.date(2026, 1, 10)))

    # 120 a month × 24 = 2880.
    assert ltv(aggregates, Stage.ACTIVE, TODAY) == Decimal("3480.00")


def test_ltv_tenure_counts_from_the_payment_day_in_the_business_time_zone():
    # 22:00 on 31 January in New York is 1 February in UTC: tenure is 5 months
    # (January to June), so 600 → 120 a month → 600 + 1440.
    aggregates = agg(spent="600", first_paid=at(dt.date(2026, 1, 31), hour=22))

    assert ltv(aggregates, Stage.ACTIVE, TODAY) == Decimal("2040.00")


# --- RFM score --------------------------------------------------------------------


def test_rfm_of_a_client_with_no_activity_is_zero():
    assert rfm(agg(), TODAY) == 0


def test_rfm_of_a_recent_frequent_big_spender_is_100():
    aggregates = agg(visits=30, idle=0, recent_visits=24, spent="2000")

    assert rfm(aggregates, TODAY) == 100


@pytest.mark.parametrize(
    ("aggregates", "score"),
    [
        # recency 3 (45 days) + frequency 2 (4 visits) + monetary 3 (600): 8/15.
        (agg(visits=4, idle=45, spent="600"), 53),
        # recency 5 + frequency 2 (3 visits) + monetary 3 (600): 10/15.
        (agg(visits=3, idle=7, spent="600"), 67),
        # recency 5 (14 days) + frequency 1 + monetary 0: 6/15.
        (agg(visits=1, idle=14), 40),
        # recency 4 (15 days) + frequency 1 + monetary 1 (1.00): 6/15.
        (agg(visits=1, idle=15, spent="1"), 40),
        # recency 1 (365 days), nothing else in the last year: 1/15.
        (agg(visits=1, idle=365, recent_visits=0), 7),
        # recency 0 (366 days): old spend does not count either.
        (agg(visits=9, idle=366, recent_visits=0, spent="900", recent_spent="0"), 0),
        # Paid but never visited: monetary 2 (200) only.
        (agg(spent="200"), 13),
    ],
)
def test_rfm_with_hand_computed_bands(aggregates, score):
    assert rfm(aggregates, TODAY) == score


def test_rfm_recency_counts_from_the_visit_day_in_the_business_time_zone():
    # 21:00 on 31 May in New York is 1 June in UTC: 15 idle days, recency 4 not 5.
    evening = SourceAggregates(
        visits=1, last_visit_at=at(dt.date(2026, 5, 31), hour=21), visits_last_year=1
    )

    assert rfm(evening, TODAY) == 33


def test_compute_figures_of_nobody_is_all_zero():
    assert compute_figures(SourceAggregates(), TODAY) == {
        "total_visits": 0,
        "first_visit_at": None,
        "last_visit_at": None,
        "total_spent": Decimal("0.00"),
        "lifetime_value": Decimal("0.00"),
        "lifecycle_stage": Stage.LEAD,
        "rfm_score": 0,
    }


# --- From the rows ----------------------------------------------------------------


@pytest.mark.django_db
def test_figures_from_appointments_and_payments_match_the_hand_computed_ones():
    client = ClientFactory()
    visits = [at(dt.date(2026, 2, 2)), at(dt.date(2026, 4, 1)), days_ago(5)]
    with time_machine.travel(at(TODAY, 12), tick=False):
        for start in visits:
            AppointmentFactory(
                client=client, start_at=start, status=Appointment.Status.COMPLETED
            )
        AppointmentFactory(client=client, start_at=days_ago(1))  # only booked
        AppointmentFactory(
            client=client, start_at=days_ago(2), status=Appointment.Status.CANCELLED
        )
        PaymentFactory(
            client=client, amount=Decimal("300.00"), paid_at=at(dt.date(2026, 1, 10))
        )
        PaymentFactory(
            client=client, amount=Decimal("300.00"), paid_at=at(dt.date(2026, 3, 10))
        )

        refresh_client_figures(client.pk)

    client.refresh_from_db()
    assert client.total_visits == 3
    assert client.first_visit_at == visits[0]
    assert client.last_visit_at == visits[-1]
    assert client.total_spent == Decimal("600.00")
    assert client.lifecycle_stage == Stage.ACTIVE
    # 600 + 600 / 5 months × 12.
    assert client.lifetime_value == Decimal("2040.00")
    # recency 5 + frequency 2 + monetary 3.
    assert client.rfm_score == 67
    assert client.figures_updated_at == at(TODAY, 12)


@pytest.mark.django_db
def test_a_visit_late_in_the_evening_counts_on_its_business_day():
    client = ClientFactory()
    evening = at(dt.date(2026, 4, 16), hour=21)
    with time_machine.travel(at(TODAY, 12), tick=False):
        for start in (days_ago(100), days_ago(90), evening):
            AppointmentFactory(
                client=client, start_at=start, status=Appointment.Status.COMPLETED
            )

        refresh_client_figures(client.pk)

    client.refresh_from_db()
    assert client.last_visit_at == evening
    assert client.lifecycle_stage == Stage.AT_RISK
