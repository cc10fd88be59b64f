"""Package expiry warnings, birthday greetings and reactivation: who, when (business
time zone), once per purchase / year / quarter, and the skips recorded on the run."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from appointments.tests.factories import AppointmentFactory
from clients.models import Client
from clients.tests.factories import ClientFactory
from communications.jobs import run_job
from communications.models import JobRun, Message, MessageKind
from packages.models import PackagePurchase
from packages.tests.factories import PackagePurchaseFactory

from .factories import ContactPreferencesFactory, MessageFactory, OptOutFactory

pytestmark = pytest.mark.django_db

Job = JobRun.Job


def local(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=ZoneInfo(settings.TIME_ZONE))


def consenting(**fields) -> Client:
    client = ClientFactory(**fields)
    ContactPreferencesFactory(client=client)
    return client


def messaged(kind) -> set[int]:
    return set(Message.objects.filter(kind=kind).values_list("client_id", flat=True))


# --- Package expiry ---------------------------------------------------------------


def purchase_expiring(on: dt.date, **fields) -> PackagePurchase:
    return PackagePurchaseFactory(
        purchased_on=on - dt.timedelta(days=60), expires_on=on, **fields
    )


def test_purchases_expiring_within_a_week_are_warned_once_each():
    today = dt.date(2026, 11, 23)
    in_seven = purchase_expiring(today + dt.timedelta(days=7))
    in_three = purchase_expiring(today + dt.timedelta(days=3))
    in_eight = purchase_expiring(today + dt.timedelta(days=8))
    today_ = purchase_expiring(today)
    used_up = purchase_expiring(
        today + dt.timedelta(days=5), status=PackagePurchase.Status.EXHAUSTED
    )

    with time_machine.travel(local(2026, 11, 23, 10), tick=False):
        first = run_job(Job.PACKAGE_EXPIRY)
        second = run_job(Job.PACKAGE_EXPIRY)

    warned = set(
        Message.objects.filter(kind=MessageKind.PACKAGE_EXPIRY).values_list(
            "object_id", flat=True
        )
    )
    assert warned == {in_seven.pk, in_three.pk}
    assert not warned & {in_eight.pk, today_.pk, used_up.pk}
    assert (first.enqueued, second.enqueued, second.duplicates) == (2, 0, 2)
    body = Message.objects.get(object_id=in_seven.pk).body_text
    assert in_seven.package.name in body


def test_the_warning_window_follows_the_setting(settings):
    settings.COMMUNICATIONS_EXPIRY_WARNING_DAYS = 14
    purchase = purchase_expiring(dt.date(2026, 12, 5))

    with time_machine.travel(local(2026, 11, 23), tick=False):
        run = run_job(Job.PACKAGE_EXPIRY)

    assert run.enqueued == 1
    assert messaged(MessageKind.PACKAGE_EXPIRY) == {purchase.client_id}


# --- Birthdays --------------------------------------------------------------------


def test_birthdays_are_greeted_on_the_day_in_the_business_time_zone():
    today = consenting(birth_date=dt.date(1990, 11, 23))
    tomorrow = consenting(birth_date=dt.date(1985, 11, 24))
    consenting(birth_date=None)

    # 08:00 in New York on the 23rd; already the 23rd at 13:00 UTC too, but at
    # 23:30 New York it is the 24th in UTC and still the 23rd here.
    with time_machine.travel(local(2026, 11, 23, 8), tick=False):
        morning = run_job(Job.BIRTHDAYS)
    with time_machine.travel(local(2026, 11, 23, 23) + dt.timedelta(minutes=30)):
        late = run_job(Job.BIRTHDAYS)

    assert messaged(MessageKind.BIRTHDAY) == {today.pk}
    assert tomorrow.pk not in messaged(MessageKind.BIRTHDAY)
    assert (morning.enqueued, late.enqueued, late.duplicates) == (1, 0, 1)
    assert Message.objects.get(client=today).idempotency_key.endswith(":2026")


def test_a_birthday_is_greeted_again_the_next_year():
    client = consenting(birth_date=dt.date(1990, 11, 23))

    with time_machine.travel(local(2026, 11, 23, 8), tick=False):
        run_job(Job.BIRTHDAYS)
    with time_machine.travel(local(2027, 11, 23, 8), tick=False):
        run = run_job(Job.BIRTHDAYS)

    assert run.enqueued == 1
    assert Message.objects.filter(client=client).count() == 2


def test_a_29_february_birthday_is_greeted_on_the_28th_in_a_common_year():
    leapling = consenting(birth_date=dt.date(2000, 2, 29))

    with time_machine.travel(local(2027, 2, 28, 8), tick=False):
        run = run_job(Job.BIRTHDAYS)

    assert run.enqueued == 1
    assert messaged(MessageKind.BIRTHDAY) == {leapling.pk}


def test_birthday_skips_are_recorded_by_reason_no_consent_opted_out_and_capped():
    born = dt.date(1990, 11, 23)
    consenting(birth_date=born)
    ClientFactory(birth_date=born)  # no contact preferences: no consent
    opted_out = consenting(birth_date=born)
    OptOutFactory(client=opted_out, kind=MessageKind.BIRTHDAY)
    capped = consenting(birth_date=born)  # email: 1 a week
    MessageFactory(
        client=capped,
        kind=MessageKind.CAMPAIGN,
        channel="email",
        status=Message.Status.SENT,
        sent_at=local(2026, 11, 21),
    )

    with time_machine.travel(local(2026, 11, 23, 8), tick=False):
        run = run_job(Job.BIRTHDAYS)

    assert run.enqueued == 1
    assert run.skipped == {"capped": 1, "no_consent": 1, "opted_out": 1}
    assert run.skipped_total == 3
    assert run.status == JobRun.Status.DONE


# --- Reactivation -----------------------------------------------------------------


def lapsed(days: int, **fields) -> Client:
    client = consenting(**fields)
    Client.objects.filter(pk=client.pk).update(
        last_visit_at=local(2026, 11, 23) - dt.timedelta(days=days)
    )
    return client


def test_clients_not_seen_for_90_days_are_invited_back_once_a_quarter():
    gone = lapsed(95)
    just_90 = lapsed(90)
    recent = lapsed(30)
    never = consenting()
    coming_back = lapsed(200)
    AppointmentFactory(client=coming_back, start_at=local(2027, 1, 10))

    with time_machine.travel(local(2026, 11, 23, 11), tick=False):
        first = run_job(Job.REACTIVATION)
    with time_machine.travel(local(2026, 12, 20, 11), tick=False):
        same_quarter = run_job(Job.REACTIVATION)
    with time_machine.travel(local(2027, 1, 5, 11), tick=False):
        next_quarter = run_job(Job.REACTIVATION)

    first_wave = {gone.pk, just_90.pk}
    assert first.enqueued == 2
    assert (same_quarter.enqueued, same_quarter.duplicates) == (0, 2)
    assert (next_quarter.enqueued, next_quarter.duplicates) == (2, 0)
    assert messaged(MessageKind.REACTIVATION) == first_wave
    assert not messaged(MessageKind.REACTIVATION) & {
        recent.pk,
        never.pk,
        coming_back.pk,
    }
    keys = set(
        Message.objects.filter(client=gone).values_list("idempotency_key", flat=True)
    )
    assert {k.rsplit(":", 1)[1] for k in keys} == {"2026-Q4", "2027-Q1"}


def test_reactivation_without_marketing_consent_is_skipped_with_the_reason(settings):
    settings.COMMUNICATIONS_REACTIVATION_DAYS = 60
    client = ClientFactory()
    Client.objects.filter(pk=client.pk).update(
        last_visit_at=local(2026, 11, 23) - dt.timedelta(days=61)
    )

    with time_machine.travel(local(2026, 11, 23, 11), tick=False):
        run = run_job(Job.REACTIVATION)

    assert (run.enqueued, run.skipped) == (0, {"no_consent": 1})
    assert Message.objects.get(client=client).reason == "no_consent"
