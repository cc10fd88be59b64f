"""Appointment services: booking rules, the status lifecycle and package sessions."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from appointments import services
from appointments.models import (
    ALLOWED_TRANSITIONS,
    Appointment,
    AppointmentStatusHistory,
    InvalidTransition,
)
from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory, UserFactory
from packages.models import PackagePurchase
from packages.services import NoSessionsLeft, release_session
from packages.tests.factories import PackageFactory, PackagePurchaseFactory
from services.tests.factories import ContraindicationFactory, ServiceFactory

pytestmark = pytest.mark.django_db

S = Appointment.Status
NY = ZoneInfo("America/New_York")
# A Wednesday morning in the business time zone; the week runs Mon 9 - Sun 15 March.
NOW = dt.datetime(2026, 3, 11, 9, 0, tzinfo=NY)

ALLOWED = sorted(
    (old, new) for old, targets in ALLOWED_TRANSITIONS.items() for new in targets
)
FORBIDDEN_SAMPLE = [
    (S.SCHEDULED, S.COMPLETED),
    (S.SCHEDULED, S.IN_PROGRESS),
    (S.CONFIRMED, S.COMPLETED),
    (S.CONFIRMED, S.SCHEDULED),
    (S.CHECKED_IN, S.SCHEDULED),
    (S.CHECKED_IN, S.NO_SHOW),
    (S.IN_PROGRESS, S.SCHEDULED),
    (S.COMPLETED, S.SCHEDULED),
    (S.COMPLETED, S.NO_SHOW),
    (S.CANCELLED, S.COMPLETED),
    (S.CANCELLED, S.CONFIRMED),
    (S.NO_SHOW, S.COMPLETED),
]


@pytest.fixture(autouse=True)
def business_time_zone(settings):
    """The dates below are written for a studio in New York."""
    settings.TIME_ZONE = "America/New_York"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff():
    return UserFactory()


def history(appointment) -> list[tuple[str, str]]:
    return list(
        AppointmentStatusHistory.objects.filter(appointment=appointment)
        .order_by("changed_at", "id")
        .values_list("from_status", "to_status")
    )


def package_purchase(*, sessions=10, max_per_week=None, services_=None, **kwargs):
    package = PackageFactory(
        sessions=sessions,
        max_sessions_per_week=max_per_week,
        price=Decimal("100.00") * sessions,
        services=services_,
    )
    return PackagePurchaseFactory(package=package, **kwargs)


def book_on(purchase, start_at, **kwargs):
    return services.book_appointment(
        purchase.client,
        service=purchase.package.services.first(),
        start_at=start_at,
        purchase=purchase,
        **kwargs,
    )


def purchase_state(purchase) -> tuple[int, str]:
    purchase.refresh_from_db()
    return purchase.sessions_used, purchase.status


# --- Booking ----------------------------------------------------------------------


def test_booking_creates_a_scheduled_appointment_and_one_history_row(clock, staff):
    client = ClientFactory()
    service = ServiceFactory(price=Decimal("65.00"), duration_minutes=15)
    start = NOW + dt.timedelta(days=1)

    appointment = services.book_appointment(
        client, service=service, start_at=start, staff=staff, notes="First", by=staff
    )

    appointment.refresh_from_db()
    assert appointment.status == S.SCHEDULED
    assert appointment.end_at == start + dt.timedelta(minutes=15)
    assert appointment.price == Decimal("65.00")
    assert appointment.booked_by == staff
    assert appointment.notes == "First"
    assert appointment.contraindication_override is False
    assert appointment.session_consumed is False
    row = appointment.status_history.get()
    assert (row.from_status, row.to_status) == ("", S.SCHEDULED)
    assert row.changed_by == staff
    assert row.changed_at == timezone.now()
    assert row.note == ""


def test_booking_on_a_purchase_prices_the_session_at_its_share_of_the_price(clock):
    purchase = package_purchase(sessions=3, price_paid=Decimal("100.00"))

    appointment = book_on(purchase, NOW + dt.timedelta(days=1))

    assert appointment.purchase == purchase
    assert appointment.price == Decimal("33.33")
    # Booking holds a slot but uses no session until the visit is completed.
    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_booking_an_inactive_service_is_refused(clock):
    service = ServiceFactory(is_active=False)

    with pytest.raises(ValidationError) as error:
        services.book_appointment(ClientFactory(), service=service, start_at=NOW)

    assert "is not offered any more" in error.value.message_dict["service"][0]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "status",
    [
        PackagePurchase.Status.EXPIRED,
        PackagePurchase.Status.EXHAUSTED,
        PackagePurchase.Status.CANCELLED,
    ],
)
def test_booking_on_a_purchase_that_is_not_active_is_refused(clock, status):
    purchase = package_purchase(status=status)

    with pytest.raises(ValidationError) as error:
        book_on(purchase, NOW + dt.timedelta(days=1))

    label = PackagePurchase.Status(status).label.lower()
    assert error.value.message_dict == {
        "purchase": [f"This package purchase is {label}."]
    }
    assert not Appointment.objects.exists()


def test_booking_on_another_clients_purchase_is_refused(clock):
    purchase = package_purchase()

    with pytest.raises(ValidationError) as error:
        services.book_appointment(
            ClientFactory(),
            service=purchase.package.services.first(),
            start_at=NOW + dt.timedelta(days=1),
            purchase=purchase,
        )

    assert error.value.message_dict == {
        "purchase": ["This package purchase belongs to another client."]
    }
    assert not Appointment.objects.exists()


def test_booking_a_service_the_package_does_not_cover_is_refused(clock):
    purchase = package_purchase(services_=[ServiceFactory(name="Cryotherapy")])
    sauna = ServiceFactory(name="Infrared Sauna")

    with pytest.raises(ValidationError) as error:
        services.book_appointment(
            purchase.client,
            service=sauna,
            start_at=NOW + dt.timedelta(days=1),
            purchase=purchase,
        )

    (message,) = error.value.message_dict["purchase"]
    assert "does not cover Infrared Sauna" in message
    assert not Appointment.objects.exists()


def test_booking_after_the_purchase_expires_is_refused(clock):
    purchase = package_purchase(
        purchased_on=NOW.date(), expires_on=NOW.date() + dt.timedelta(days=5)
    )

    # The last valid day is fine, the day after is not.
    book_on(purchase, NOW + dt.timedelta(days=5))
    with pytest.raises(ValidationError) as error:
        book_on(purchase, NOW + dt.timedelta(days=6))

    assert error.value.message_dict == {
        "purchase": [
            "The package purchase expires on 2026-03-16, before this appointment."
        ]
    }
    assert Appointment.objects.count() == 1


def test_the_expiry_day_is_judged_in_the_business_time_zone(clock):
    purchase = package_purchase(
        purchased_on=NOW.date(), expires_on=dt.date(2026, 3, 20)
    )
    # 23:30 in New York on the expiry day is already the 21st in UTC.
    late_evening = dt.datetime(2026, 3, 20, 23, 30, tzinfo=NY)

    appointment = book_on(purchase, late_evening)

    assert appointment.pk is not None


def test_booking_more_appointments_than_sessions_is_refused(clock):
    purchase = package_purchase(sessions=2)
    book_on(purchase, NOW + dt.timedelta(days=1))
    book_on(purchase, NOW + dt.timedelta(days=8))

    with pytest.raises(ValidationError) as error:
        book_on(purchase, NOW + dt.timedelta(days=15))

    assert error.value.message_dict == {
        "purchase": [
            "Every session of this package purchase is already booked or used."
        ]
    }
    assert purchase.appointments.count() == 2


def test_a_cancelled_booking_frees_its_slot_on_the_purchase(clock):
    purchase = package_purchase(sessions=1)
    first = book_on(purchase, NOW + dt.timedelta(days=1))
    services.cancel_appointment(first)

    second = book_on(purchase, NOW + dt.timedelta(days=2))

    assert second.purchase == purchase


def test_booking_beyond_the_packages_weekly_maximum_is_refused(clock):
    purchase = package_purchase(max_per_week=2)
    monday = dt.datetime(2026, 3, 16, 10, 0, tzinfo=NY)
    book_on(purchase, monday)
    book_on(purchase, monday + dt.timedelta(days=2))

    with pytest.raises(ValidationError) as error:
        book_on(purchase, monday + dt.timedelta(days=6, hours=12))

    assert error.value.message_dict == {
        "purchase": [
            "The package allows 2 sessions a week; 2 are already booked in the "
            "week of 2026-03-16."
        ]
    }
    # The next week is open again.
    next_monday = book_on(purchase, monday + dt.timedelta(days=7))
    assert purchase.appointments.count() == 3
    assert next_monday.start_at == monday + dt.timedelta(days=7)


def test_every_booking_problem_is_reported_at_once(clock):
    purchase = package_purchase(
        sessions=1, expires_on=NOW.date() + dt.timedelta(days=1)
    )
    book_on(purchase, NOW + dt.timedelta(hours=2))

    with pytest.raises(ValidationError) as error:
        services.book_appointment(
            purchase.client,
            service=ServiceFactory(),
            start_at=NOW + dt.timedelta(days=3),
            purchase=purchase,
        )

    messages = error.value.message_dict["purchase"]
    assert len(messages) == 3
    assert "does not cover" in messages[0]
    assert "expires on" in messages[1]
    assert "already booked or used" in messages[2]


# --- Contraindications ------------------------------------------------------------


@pytest.fixture
def contraindicated():
    pregnancy = ContraindicationFactory(name="Pregnancy")
    cryo = ServiceFactory(name="Cryotherapy")
    cryo.contraindications.add(pregnancy, ContraindicationFactory(name="Fever"))
    client = ClientFactory()
    client.conditions.add(pregnancy)
    return client, cryo


def test_booking_a_contraindicated_service_is_refused(clock, contraindicated):
    client, cryo = contraindicated

    with pytest.raises(ValidationError) as error:
        services.book_appointment(client, service=cryo, start_at=NOW)

    (message,) = error.value.message_dict["contraindication_override"]
    assert "Cryotherapy is contraindicated" in message
    assert "Pregnancy" in message
    assert "Fever" not in message
    assert not Appointment.objects.exists()


def test_a_refusal_names_no_condition_to_a_user_without_medical_access(
    clock, contraindicated
):
    client, cryo = contraindicated
    desk = UserFactory(username="desk")

    with pytest.raises(ValidationError) as error:
        services.book_appointment(client, service=cryo, start_at=NOW, by=desk)

    (message,) = error.value.message_dict["contraindication_override"]
    assert "contraindicated for one of this client's conditions" in message
    assert "Pregnancy" not in message


def test_an_override_without_a_reason_is_refused(clock, contraindicated):
    client, cryo = contraindicated

    with pytest.raises(ValidationError) as error:
        services.book_appointment(
            client,
            service=cryo,
            start_at=NOW,
            override_contraindications=True,
            override_reason="  ",
        )

    assert error.value.message_dict == {
        "override_reason": ["Say why the contraindication is overridden."]
    }
    assert not Appointment.objects.exists()


def test_an_override_with_a_reason_books_and_records_who_and_why(
    clock, contraindicated, staff
):
    client, cryo = contraindicated

    appointment = services.book_appointment(
        client,
        service=cryo,
        start_at=NOW,
        override_contraindications=True,
        override_reason="Doctor's note on file",
        by=staff,
    )

    appointment.refresh_from_db()
    assert appointment.contraindication_override is True
    assert appointment.override_reason == "Doctor's note on file"
    assert appointment.override_by == staff
    row = appointment.status_history.get()
    assert row.to_status == S.SCHEDULED
    assert row.changed_by == staff
    assert row.note == "Booked with contraindication override: Doctor's note on file"


def test_an_override_for_a_service_without_contraindications_is_not_recorded(
    clock, staff
):
    appointment = services.book_appointment(
        ClientFactory(),
        service=ServiceFactory(),
        start_at=NOW,
        override_contraindications=True,
        override_reason="Just in case",
        by=staff,
    )

    appointment.refresh_from_db()
    assert appointment.contraindication_override is False
    assert appointment.override_reason == ""
    assert appointment.override_by is None
    assert appointment.status_history.get().note == ""


# --- Lifecycle --------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_every_allowed_transition_writes_one_history_row(clock, staff, old, new):
    appointment = AppointmentFactory(status=old)
    before = AppointmentStatusHistory.objects.count()

    result = services.change_status(appointment, new, by=staff, note="At the desk")

    assert result.status == new
    assert appointment.status == new
    appointment.refresh_from_db()
    assert appointment.status == new
    assert AppointmentStatusHistory.objects.count() == before + 1
    row = appointment.status_history.latest("id")
    assert (row.from_status, row.to_status) == (old, new)
    assert row.changed_by == staff
    assert row.changed_at == timezone.now()
    assert row.note == "At the desk"


@pytest.mark.parametrize(("old", "new"), FORBIDDEN_SAMPLE)
def test_a_forbidden_transition_is_refused_and_writes_nothing(clock, old, new):
    appointment = AppointmentFactory(status=old)

    with pytest.raises(InvalidTransition) as error:
        services.change_status(appointment, new)

    assert (error.value.old, error.value.new) == (old, new)
    assert str(S(old).label) in str(error.value)
    appointment.refresh_from_db()
    assert appointment.status == old
    assert history(appointment) == [("", old)]


def test_the_happy_path_writes_one_row_per_step(clock, staff):
    appointment = services.book_appointment(
        ClientFactory(), service=ServiceFactory(), start_at=NOW, by=staff
    )

    services.confirm_appointment(appointment, by=staff)
    services.check_in_appointment(appointment, by=staff)
    services.start_appointment(appointment, by=staff)
    services.complete_appointment(appointment, by=staff, note="Went well")

    assert history(appointment) == [
        ("", S.SCHEDULED),
        (S.SCHEDULED, S.CONFIRMED),
        (S.CONFIRMED, S.CHECKED_IN),
        (S.CHECKED_IN, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.COMPLETED),
    ]
    assert set(appointment.status_history.values_list("changed_by", flat=True)) == {
        staff.pk
    }


def test_no_show_and_rebooking_are_recorded(clock):
    appointment = AppointmentFactory()

    services.mark_no_show(appointment)
    services.change_status(appointment, S.SCHEDULED, note="Rebooked")

    assert history(appointment) == [
        ("", S.SCHEDULED),
        (S.SCHEDULED, S.NO_SHOW),
        (S.NO_SHOW, S.SCHEDULED),
    ]


def test_a_repeat_call_writes_nothing(clock, staff):
    appointment = AppointmentFactory(status=S.CHECKED_IN)
    services.complete_appointment(appointment, by=staff)

    services.complete_appointment(appointment, by=staff)
    services.change_status(appointment, S.COMPLETED)

    assert history(appointment) == [("", S.CHECKED_IN), (S.CHECKED_IN, S.COMPLETED)]


def test_a_bulk_of_service_calls_writes_one_row_per_appointment(clock, staff):
    appointments = AppointmentFactory.create_batch(3)
    already = AppointmentFactory(status=S.CONFIRMED)

    for appointment in Appointment.objects.order_by("id"):
        services.confirm_appointment(appointment, by=staff, note="Bulk confirm")

    rows = AppointmentStatusHistory.objects.filter(to_status=S.CONFIRMED).exclude(
        from_status=""
    )
    assert sorted(rows.values_list("appointment_id", flat=True)) == sorted(
        a.pk for a in appointments
    )
    assert all(r.changed_by == staff and r.note == "Bulk confirm" for r in rows)
    assert history(already) == [("", S.CONFIRMED)]


def test_a_long_note_is_cut_to_fit_the_history_row(clock):
    appointment = AppointmentFactory()

    services.cancel_appointment(appointment, note="x" * 300)

    assert appointment.status_history.latest("id").note == "x" * 255


def test_feedback_is_recorded_only_on_a_completed_appointment(clock):
    appointment = AppointmentFactory(status=S.CHECKED_IN)

    with pytest.raises(ValidationError):
        services.record_feedback(appointment, rating=5)
    services.complete_appointment(appointment)
    with pytest.raises(ValidationError):
        services.record_feedback(appointment, rating=6)
    services.record_feedback(appointment, rating=4, comment="Cold!")

    appointment.refresh_from_db()
    assert (appointment.feedback_rating, appointment.feedback_comment) == (4, "Cold!")
    assert len(history(appointment)) == 2


# --- Package sessions -------------------------------------------------------------


@pytest.fixture
def on_package(clock):
    """A checked-in appointment on a fresh 10-session purchase."""
    purchase = package_purchase(sessions=10)
    appointment = AppointmentFactory(
        client=purchase.client,
        service=purchase.package.services.first(),
        purchase=purchase,
        status=S.CHECKED_IN,
    )
    return appointment, purchase


def test_completing_consumes_exactly_one_session(on_package, staff):
    appointment, purchase = on_package

    services.complete_appointment(appointment, by=staff)

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)
    appointment.refresh_from_db()
    assert appointment.session_consumed is True


def test_completing_twice_consumes_one_session(on_package):
    appointment, purchase = on_package

    services.complete_appointment(appointment)
    services.complete_appointment(appointment)
    services.complete_appointment(Appointment.objects.get(pk=appointment.pk))

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)
    assert history(appointment) == [("", S.CHECKED_IN), (S.CHECKED_IN, S.COMPLETED)]


def test_resaving_a_completed_appointment_consumes_nothing_more(on_package):
    appointment, purchase = on_package
    services.complete_appointment(appointment)

    appointment.notes = "Felt great"
    appointment.save()
    Appointment.objects.get(pk=appointment.pk).save()

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)
    assert len(history(appointment)) == 2


def test_reopening_a_completed_appointment_gives_the_session_back(on_package):
    appointment, purchase = on_package
    services.complete_appointment(appointment)

    services.start_appointment(appointment, note="Completed by mistake")

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)
    appointment.refresh_from_db()
    assert appointment.session_consumed is False
    assert history(appointment)[-1] == (S.COMPLETED, S.IN_PROGRESS)


def test_completing_again_after_reopening_consumes_one_session(on_package):
    appointment, purchase = on_package
    services.complete_appointment(appointment)
    services.start_appointment(appointment)

    services.complete_appointment(appointment)

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)


def test_cancelling_a_completed_appointment_gives_the_session_back(on_package):
    appointment, purchase = on_package
    services.complete_appointment(appointment)

    services.cancel_appointment(appointment, note="Refunded")

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)
    assert history(appointment)[-1] == (S.COMPLETED, S.CANCELLED)


def test_resaving_the_callers_instance_keeps_the_session_returnable(on_package):
    # The instance passed to the service is the one a caller (the admin, a shell
    # session) saves next; saving it must not forget that it holds a session.
    appointment, purchase = on_package
    services.complete_appointment(appointment)
    appointment.notes = "Edited after completing"
    appointment.save()

    services.cancel_appointment(appointment)

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)
    appointment.refresh_from_db()
    assert appointment.session_consumed is False


def test_cancelling_an_appointment_that_was_never_completed_gives_nothing_back(
    on_package,
):
    appointment, purchase = on_package
    other = AppointmentFactory(
        client=purchase.client,
        service=appointment.service,
        purchase=purchase,
        status=S.CHECKED_IN,
    )
    services.complete_appointment(other)

    services.cancel_appointment(appointment)

    assert purchase_state(purchase) == (1, PackagePurchase.Status.ACTIVE)


def test_the_last_session_turns_the_purchase_exhausted(clock):
    purchase = package_purchase(sessions=1)
    appointment = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )

    services.complete_appointment(appointment)

    assert purchase_state(purchase) == (1, PackagePurchase.Status.EXHAUSTED)


def test_completing_on_an_exhausted_purchase_fails_and_changes_nothing(clock):
    purchase = package_purchase(sessions=1)
    first, second = AppointmentFactory.create_batch(
        2, client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )
    services.complete_appointment(first)

    with pytest.raises(NoSessionsLeft):
        services.complete_appointment(second)

    second.refresh_from_db()
    assert second.status == S.CHECKED_IN
    assert second.session_consumed is False
    assert history(second) == [("", S.CHECKED_IN)]
    assert purchase_state(purchase) == (1, PackagePurchase.Status.EXHAUSTED)


def test_giving_a_session_back_turns_an_exhausted_purchase_active(clock):
    purchase = package_purchase(sessions=1)
    appointment = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )
    services.complete_appointment(appointment)

    services.cancel_appointment(appointment)

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_giving_a_session_back_after_the_validity_turns_the_purchase_expired(clock):
    purchase = package_purchase(
        sessions=1, purchased_on=NOW.date(), expires_on=NOW.date()
    )
    appointment = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )
    services.complete_appointment(appointment)

    clock.move_to(NOW + dt.timedelta(days=3))
    services.start_appointment(appointment)

    assert purchase_state(purchase) == (0, PackagePurchase.Status.EXPIRED)


def test_a_purchase_never_goes_below_zero_sessions_used(clock):
    purchase = package_purchase(sessions=2)

    release_session(purchase.pk)

    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_a_completed_visit_without_a_purchase_touches_no_package(clock):
    purchase = package_purchase()
    appointment = AppointmentFactory(client=purchase.client, status=S.CHECKED_IN)

    services.complete_appointment(appointment)

    appointment.refresh_from_db()
    assert appointment.session_consumed is False
    assert purchase_state(purchase) == (0, PackagePurchase.Status.ACTIVE)


def test_completing_on_an_expired_purchase_fails(clock):
    purchase = package_purchase(status=PackagePurchase.Status.EXPIRED)
    appointment = AppointmentFactory(
        client=purchase.client, purchase=purchase, status=S.CHECKED_IN
    )

    with pytest.raises(NoSessionsLeft):
        services.complete_appointment(appointment)

    appointment.refresh_from_db()
    assert appointment.status == S.CHECKED_IN
    assert purchase_state(purchase) == (0, PackagePurchase.Status.EXPIRED)


# --- Editing a booking ------------------------------------------------------------


def test_editing_the_start_and_service_recomputes_end_and_price():
    appointment = AppointmentFactory()
    longer = ServiceFactory(price=Decimal("80.00"), duration_minutes=90)
    new_start = appointment.start_at + dt.timedelta(days=1)

    services.update_appointment(
        appointment, fields={"start_at": new_start, "service": longer}
    )

    appointment.refresh_from_db()
    assert appointment.start_at == new_start
    assert appointment.end_at == new_start + dt.timedelta(minutes=90)
    assert appointment.price == Decimal("80.00")
    assert appointment.status_history.count() == 1  # only the booking


def test_an_edit_with_a_status_moves_it_through_the_lifecycle():
    appointment = AppointmentFactory()
    desk = UserFactory()

    services.update_appointment(
        appointment,
        fields={"notes": "Prefers the morning"},
        status=Appointment.Status.CONFIRMED,
        expected_status=Appointment.Status.SCHEDULED,
        note="Phoned",
        by=desk,
    )

    appointment.refresh_from_db()
    last = appointment.status_history.order_by("-id").first()
    assert appointment.notes == "Prefers the morning"
    assert (last.from_status, last.to_status, last.changed_by, last.note) == (
        Appointment.Status.SCHEDULED,
        Appointment.Status.CONFIRMED,
        desk,
        "Phoned",
    )


def test_an_edit_of_a_status_changed_meanwhile_writes_nothing():
    appointment = AppointmentFactory()
    stale_notes = appointment.notes
    services.confirm_appointment(
        AppointmentFactory._meta.model.objects.get(pk=appointment.pk)
    )

    with pytest.raises(ValidationError, match="while you were editing"):
        services.update_appointment(
            appointment,
            fields={"notes": "Changed"},
            status=Appointment.Status.CHECKED_IN,
            expected_status=Appointment.Status.SCHEDULED,
        )

    appointment.refresh_from_db()
    assert appointment.notes == stale_notes
    assert appointment.status == Appointment.Status.CONFIRMED
