"""seed_demo: bulk-loaded rows are as consistent as rows made through the services."""

import io
from collections import defaultdict

import phonenumbers
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone

from appointments.models import (
    ALLOWED_TRANSITIONS,
    BOOKED_STATUSES,
    Appointment,
    AppointmentStatusHistory,
    Status,
)
from clients.models import Client
from clients.services import reconcile_client_figures
from clients.tests.factories import ClientFactory
from crm_project.demo import seed_demo
from packages.models import PackagePurchase, Payment

pytestmark = pytest.mark.django_db


def loaded_clients():
    """The clients the bulk loader wrote: the leads demo converts a few of its leads
    into clients too."""
    return Client.objects.filter(leads__isnull=True)


@pytest.fixture
def seeded(db):
    # Small chunks, so that the run writes several transactions.
    return seed_demo(clients=80, appointments_per_client=6, seed=7, chunk_size=30)


def test_seeding_makes_linked_rows_of_every_kind(seeded):
    assert seeded.counts["clients_client"] == 80 == loaded_clients().count()
    assert seeded.counts["appointments_appointment"] == Appointment.objects.count()
    assert Appointment.objects.count() > 300
    assert PackagePurchase.objects.exists()
    assert Payment.objects.filter(purchase__isnull=False).exists()
    assert Payment.objects.filter(appointment__isnull=False).exists()
    assert Client.objects.filter(referred_by__referred_by__isnull=False).exists()
    assert Client.objects.filter(tags__isnull=False).exists()
    assert Appointment.objects.filter(feedback_rating__isnull=False).exists()
    assert Client.objects.filter(preferred_language="es").exists()


def test_every_appointment_status_is_present(seeded):
    statuses = set(Appointment.objects.values_list("status", flat=True))

    assert statuses == set(Status.values)


def test_sessions_used_equal_the_completed_consumed_appointments(seeded):
    purchases = PackagePurchase.objects.annotate(
        consumed=Count(
            "appointments",
            filter=Q(
                appointments__status=Status.COMPLETED,
                appointments__session_consumed=True,
            ),
        ),
        booked=Count(
            "appointments", filter=Q(appointments__status__in=BOOKED_STATUSES)
        ),
    )
    today = timezone.localdate()

    assert purchases.exists()
    for purchase in purchases:
        assert purchase.sessions_used == purchase.consumed
        assert purchase.booked <= purchase.sessions_total
        if purchase.status == PackagePurchase.Status.EXHAUSTED:
            assert purchase.sessions_used == purchase.sessions_total
        elif purchase.status == PackagePurchase.Status.EXPIRED:
            assert purchase.expires_on < today
            assert purchase.sessions_used < purchase.sessions_total
        elif purchase.status == PackagePurchase.Status.ACTIVE:
            assert purchase.expires_on >= today
            assert purchase.sessions_used < purchase.sessions_total
    # Only a completed appointment on a purchase holds a session.
    assert not Appointment.objects.filter(session_consumed=True).exclude(
        status=Status.COMPLETED, purchase__isnull=False
    )
    assert not Appointment.objects.filter(
        status=Status.COMPLETED, purchase__isnull=False, session_consumed=False
    )


def test_appointments_on_a_purchase_fall_within_its_validity(seeded):
    for appointment in Appointment.objects.filter(
        purchase__isnull=False
    ).select_related("purchase"):
        day = timezone.localdate(appointment.start_at)
        assert (
            appointment.purchase.purchased_on <= day <= appointment.purchase.expires_on
        )
        assert appointment.client_id == appointment.purchase.client_id


def test_reconciliation_finds_nothing_to_correct(seeded):
    assert seeded.mismatched == 0
    assert seeded.verified == 80

    result = reconcile_client_figures()

    assert result.checked == Client.objects.count()
    assert result.corrected == 0


def test_history_is_one_allowed_path_ending_in_the_status(seeded):
    paths = defaultdict(list)
    for row in AppointmentStatusHistory.objects.order_by("changed_at", "id"):
        paths[row.appointment_id].append(row)
    now = timezone.now()

    for appointment in Appointment.objects.all():
        rows = paths[appointment.pk]
        assert rows, appointment
        assert (rows[0].from_status, rows[0].to_status) == ("", Status.SCHEDULED)
        for before, after in zip(rows, rows[1:], strict=False):
            assert after.from_status == before.to_status
            assert after.to_status in ALLOWED_TRANSITIONS[before.to_status]
        assert rows[-1].to_status == appointment.status
        assert all(row.changed_at <= now for row in rows)


def test_payments_match_what_was_sold_and_served(seeded):
    for purchase in PackagePurchase.objects.prefetch_related("payments"):
        assert [p.amount for p in purchase.payments.all()] == [purchase.price_paid]
    individual = Appointment.objects.filter(
        status=Status.COMPLETED, purchase__isnull=True
    ).prefetch_related("payments")
    assert individual.exists()
    for appointment in individual:
        assert [p.amount for p in appointment.payments.all()] == [appointment.price]
    assert not Payment.objects.filter(appointment__status__in=[Status.CANCELLED])


def test_contraindicated_bookings_carry_the_override(seeded):
    for appointment in Appointment.objects.filter(
        client__conditions__isnull=False
    ).distinct():
        blocked = appointment.service.contraindications.filter(
            clients=appointment.client_id
        ).exists()
        assert appointment.contraindication_override == blocked
        if blocked:
            assert appointment.override_reason
            assert appointment.override_by_id


def test_contacts_are_valid_and_unique(seeded):
    phones = [p for p in Client.objects.values_list("phone", flat=True) if p]
    emails = [e for e in Client.objects.values_list("email", flat=True) if e]

    assert len(phones) == len(set(phones)) > 70
    assert len(emails) == len(set(emails))
    for phone in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phone == phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164
        )


def test_staff_users_have_their_roles(seeded):
    users = get_user_model().objects.filter(username__startswith="demo.")

    assert users.filter(groups__name="receptionist").count() >= 2
    assert users.filter(groups__name="manager").exists()
    assert not any(user.has_usable_password() for user in users)


def test_a_second_run_adds_without_collisions(seeded):
    again = seed_demo(clients=20, appointments_per_client=3, seed=7)

    assert again.mismatched == 0
    assert loaded_clients().count() == 100
    assert reconcile_client_figures().corrected == 0


def test_if_empty_does_nothing_when_clients_exist(seeded):
    before = (Client.objects.count(), Appointment.objects.count())
    out = io.StringIO()

    call_command("seed_demo", "--clients", "5", "--if-empty", stdout=out)

    assert (Client.objects.count(), Appointment.objects.count()) == before
    assert "nothing seeded" in out.getvalue()


def test_the_command_prints_what_it_made_and_how_long_it_took(db):
    out = io.StringIO()

    call_command(
        "seed_demo", "--clients", "12", "--seed", "3", "--if-empty", stdout=out
    )

    text = out.getvalue()
    assert loaded_clients().count() == 12
    assert "appointments_appointment" in text
    assert "0 differ" in text
    assert "Seeded 12 clients in" in text


def test_contacts_taken_by_hand_made_clients_are_not_reused(db, monkeypatch):
    from crm_project.demo import generate

    taken = ClientFactory(phone="+12125550100")
    monkeypatch.setattr(generate, "phone_for", lambda client_id: taken.phone)
    monkeypatch.setattr(
        generate, "referral_code", lambda client_id: taken.referral_code
    )

    seed_demo(clients=3, appointments_per_client=1, seed=5)

    seeded = loaded_clients().exclude(pk=taken.pk)
    assert seeded.count() == 3
    assert set(seeded.values_list("phone", flat=True)) == {""}
    assert taken.referral_code not in set(
        seeded.values_list("referral_code", flat=True)
    )
