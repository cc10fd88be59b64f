"""Package services: selling, payments, session counters and expiry."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from clients.tests.factories import ClientFactory, UserFactory
from packages import services
from packages.models import PackagePurchase, Payment
from packages.services import NoSessionsLeft
from packages.tasks import expire_package_purchases
from packages.tests.factories import PackageFactory, PackagePurchaseFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
# Noon in New York on Tuesday 10 March 2026.
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=NY)
TODAY = NOON.date()
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"

Status = PackagePurchase.Status


@pytest.fixture(autouse=True)
def business_time_zone(settings):
    """The dates below are written for a studio in New York."""
    settings.TIME_ZONE = "America/New_York"


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


def nothing_written() -> bool:
    return not PackagePurchase.objects.exists() and not Payment.objects.exists()


def state(purchase) -> tuple[int, str]:
    purchase.refresh_from_db()
    return purchase.sessions_used, purchase.status


# --- sell_package -----------------------------------------------------------------


def test_selling_a_package_creates_the_purchase_and_its_payment(clock):
    staff = UserFactory()
    client = ClientFactory()
    package = PackageFactory(sessions=12, validity_days=45, price=Decimal("1100.00"))

    purchase = services.sell_package(
        client, package, payment_method=Payment.Method.CARD, reference="POS-1", by=staff
    )

    purchase.refresh_from_db()
    assert purchase.client == client
    assert purchase.package == package
    assert purchase.price_paid == Decimal("1100.00")
    assert purchase.purchased_on == TODAY
    assert purchase.expires_on == dt.date(2026, 4, 24)
    assert purchase.sessions_total == 12
    assert purchase.sessions_used == 0
    assert purchase.sessions_remaining == 12
    assert purchase.status == Status.ACTIVE
    assert purchase.sold_by == staff
    payment = Payment.objects.get()
    assert payment.purchase == purchase
    assert payment.client == client
    assert payment.amount == Decimal("1100.00")
    assert payment.method == Payment.Method.CARD
    assert payment.reference == "POS-1"
    assert payment.received_by == staff
    assert payment.paid_at == timezone.now()


def test_a_sale_refreshes_the_clients_spend(clock):
    client = ClientFactory()

    services.sell_package(
        client, PackageFactory(price=Decimal("850.00")), payment_method="cash"
    )

    client.refresh_from_db()
    assert client.total_spent == Decimal("850.00")
    assert client.lifecycle_stage == client.Stage.NEW


def test_a_sale_on_a_given_day_at_a_given_price_expires_after_the_validity(clock):
    package = PackageFactory(validity_days=60, price=Decimal("950.00"))

    purchase = services.sell_package(
        ClientFactory(),
        package,
        payment_method="transfer",
        price="900.00",
        purchased_on=dt.date(2026, 1, 31),
    )

    assert purchase.purchased_on == dt.date(2026, 1, 31)
    assert purchase.expires_on == dt.date(2026, 4, 1)
    assert purchase.price_paid == Decimal("900.00")
    assert Payment.objects.get().amount == Decimal("900.00")


def test_the_default_sale_day_is_today_in_the_business_time_zone():
    # 23:30 on 9 March in New York is already 10 March in UTC.
    with time_machine.travel(dt.datetime(2026, 3, 9, 23, 30, tzinfo=NY), tick=False):
        purchase = services.sell_package(
            ClientFactory(), PackageFactory(validity_days=1), payment_method="cash"
        )

    assert purchase.purchased_on == dt.date(2026, 3, 9)
    assert purchase.expires_on == dt.date(2026, 3, 10)


def test_a_free_package_is_sold_without_a_payment(clock):
    purchase = services.sell_package(
        ClientFactory(), PackageFactory(), payment_method="other", price=Decimal("0")
    )

    assert purchase.price_paid == Decimal("0.00")
    assert not Payment.objects.exists()


def test_a_receipt_is_stored_with_the_payment(clock):
    receipt = SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf")

    services.sell_package(
        ClientFactory(), PackageFactory(), payment_method="card", receipt=receipt
    )

    payment = Payment.objects.get()
    assert payment.receipt.name.startswith("receipts/2026/03/receipt")
    with payment.receipt.open("rb") as stored:
        assert stored.read() == PDF


def test_selling_an_inactive_package_is_refused_and_writes_nothing(clock):
    package = PackageFactory(name="Old offer", is_active=False)

    with pytest.raises(ValidationError) as error:
        services.sell_package(ClientFactory(), package, payment_method="card")

    assert error.value.messages == ["The package “Old offer” is not on sale."]
    assert nothing_written()


def test_an_unknown_payment_method_is_refused_and_writes_nothing(clock):
    with pytest.raises(ValidationError) as error:
        services.sell_package(ClientFactory(), PackageFactory(), payment_method="iou")

    assert error.value.messages == ["Unknown payment method “iou”."]
    assert nothing_written()


def test_a_negative_price_is_refused_and_writes_nothing(clock):
    with pytest.raises(ValidationError) as error:
        services.sell_package(
            ClientFactory(), PackageFactory(), payment_method="card", price="-1"
        )

    assert error.value.messages == ["A price cannot be negative."]
    assert nothing_written()


@pytest.mark.parametrize("price", ["abc", "", "NaN", "Infinity"])
def test_a_price_that_is_not_a_number_is_refused_and_writes_nothing(clock, price):
    with pytest.raises(ValidationError) as error:
        services.sell_package(
            ClientFactory(), PackageFactory(), payment_method="card", price=price
        )

    assert error.value.messages == [f"“{price}” is not a price."]
    assert nothing_written()


def test_a_bad_receipt_undoes_the_whole_sale(clock):
    client = ClientFactory()
    fake = SimpleUploadedFile("receipt.pdf", b"<html>not a pdf</html>")

    with pytest.raises(ValidationError) as error:
        services.sell_package(
            client, PackageFactory(), payment_method="card", receipt=fake
        )

    assert "receipt" in error.value.message_dict
    assert nothing_written()
    client.refresh_from_db()
    assert client.total_spent == Decimal("0")


# --- record_payment ---------------------------------------------------------------


def test_recording_a_payment_validates_the_amount_and_writes_nothing_bad(clock):
    client = ClientFactory()

    with pytest.raises(ValidationError) as error:
        services.record_payment(client, amount=Decimal("0"), method="cash")

    assert "amount" in error.value.message_dict
    assert not Payment.objects.exists()


def test_recording_a_payment_keeps_its_time_and_method(clock):
    client = ClientFactory()
    paid_at = NOON - dt.timedelta(days=2)

    payment = services.record_payment(
        client, amount="45.00", method="cash", paid_at=paid_at
    )

    payment.refresh_from_db()
    assert (payment.amount, payment.method, payment.paid_at) == (
        Decimal("45.00"),
        "cash",
        paid_at,
    )
    assert payment.purchase is None


# --- Session counters -------------------------------------------------------------


def test_consuming_takes_one_session():
    purchase = PackagePurchaseFactory(sessions_total=3)

    services.consume_session(purchase.pk)

    assert state(purchase) == (1, Status.ACTIVE)


def test_consuming_the_last_session_turns_the_purchase_exhausted():
    purchase = PackagePurchaseFactory(sessions_total=2, sessions_used=1)

    services.consume_session(purchase.pk)

    assert state(purchase) == (2, Status.EXHAUSTED)


@pytest.mark.parametrize(
    ("used", "status"),
    [(2, Status.EXHAUSTED), (0, Status.EXPIRED), (0, Status.CANCELLED)],
)
def test_consuming_from_a_purchase_that_is_not_active_fails(used, status):
    purchase = PackagePurchaseFactory(
        sessions_total=2, sessions_used=used, status=status
    )

    with pytest.raises(NoSessionsLeft) as error:
        services.consume_session(purchase.pk)

    assert "no session left" in error.value.messages[0]
    assert state(purchase) == (used, status)


def test_the_database_refuses_more_sessions_used_than_bought():
    purchase = PackagePurchaseFactory(sessions_total=2)

    with pytest.raises(IntegrityError), transaction.atomic():
        PackagePurchase.objects.filter(pk=purchase.pk).update(sessions_used=3)

    assert state(purchase) == (0, Status.ACTIVE)


def test_releasing_gives_one_session_back():
    purchase = PackagePurchaseFactory(sessions_total=3, sessions_used=2)

    services.release_session(purchase.pk)

    assert state(purchase) == (1, Status.ACTIVE)


def test_releasing_never_goes_below_zero():
    purchase = PackagePurchaseFactory(sessions_total=3)

    services.release_session(purchase.pk)

    assert state(purchase) == (0, Status.ACTIVE)


def test_releasing_on_an_exhausted_purchase_makes_it_active_again(clock):
    purchase = PackagePurchaseFactory(
        sessions_total=2, sessions_used=2, status=Status.EXHAUSTED, expires_on=TODAY
    )

    services.release_session(purchase.pk)

    assert state(purchase) == (1, Status.ACTIVE)


def test_releasing_on_an_exhausted_purchase_past_its_validity_makes_it_expired(clock):
    purchase = PackagePurchaseFactory(
        sessions_total=2,
        sessions_used=2,
        status=Status.EXHAUSTED,
        purchased_on=TODAY - dt.timedelta(days=61),
        expires_on=TODAY - dt.timedelta(days=1),
    )

    services.release_session(purchase.pk)

    assert state(purchase) == (1, Status.EXPIRED)


def test_releasing_on_a_cancelled_purchase_keeps_it_cancelled():
    purchase = PackagePurchaseFactory(
        sessions_total=2, sessions_used=1, status=Status.CANCELLED
    )

    services.release_session(purchase.pk)

    assert state(purchase) == (0, Status.CANCELLED)


def test_cancelling_a_purchase_is_recorded_once():
    purchase = PackagePurchaseFactory(notes="Paid in cash")

    services.cancel_purchase(purchase, note="Refunded")
    services.cancel_purchase(purchase, note="Refunded again")

    purchase.refresh_from_db()
    assert purchase.status == Status.CANCELLED
    assert purchase.notes == "Paid in cash\nRefunded"


# --- Expiry -----------------------------------------------------------------------


@pytest.fixture
def purchases():
    """One purchase of each kind, named; expiry is judged on TODAY (10 March)."""

    def make(expires_on, status=Status.ACTIVE):
        return PackagePurchaseFactory(
            purchased_on=expires_on - dt.timedelta(days=30),
            expires_on=expires_on,
            status=status,
        )

    return {
        "lapsed": make(TODAY - dt.timedelta(days=1)),
        "long lapsed": make(TODAY - dt.timedelta(days=40)),
        "last day": make(TODAY),
        "valid": make(TODAY + dt.timedelta(days=20)),
        "exhausted": make(TODAY - dt.timedelta(days=1), Status.EXHAUSTED),
        "cancelled": make(TODAY - dt.timedelta(days=1), Status.CANCELLED),
    }


def statuses(purchases) -> dict[str, str]:
    return {
        name: PackagePurchase.objects.get(pk=p.pk).status
        for name, p in purchases.items()
    }


def test_expiry_marks_active_purchases_past_their_validity_expired(clock, purchases):
    count = services.expire_purchases()

    assert count == 2
    assert statuses(purchases) == {
        "lapsed": Status.EXPIRED,
        "long lapsed": Status.EXPIRED,
        "last day": Status.ACTIVE,
        "valid": Status.ACTIVE,
        "exhausted": Status.EXHAUSTED,
        "cancelled": Status.CANCELLED,
    }


def test_expiry_is_idempotent(clock, purchases):
    services.expire_purchases()
    before = statuses(purchases)

    assert services.expire_purchases() == 0
    assert statuses(purchases) == before


def test_expiry_judges_the_day_in_the_business_time_zone(purchases):
    # 23:30 on 10 March in New York is 11 March in UTC: the last day still counts.
    with time_machine.travel(dt.datetime(2026, 3, 10, 23, 30, tzinfo=NY), tick=False):
        services.expire_purchases()

    assert statuses(purchases)["last day"] == Status.ACTIVE
    with time_machine.travel(dt.datetime(2026, 3, 11, 0, 5, tzinfo=NY), tick=False):
        services.expire_purchases()
    assert statuses(purchases)["last day"] == Status.EXPIRED


def test_expiry_on_a_given_day(purchases):
    assert services.expire_purchases(today=TODAY + dt.timedelta(days=21)) == 4

    assert statuses(purchases)["valid"] == Status.EXPIRED


def test_the_expiry_task_expires_purchases_and_can_run_twice(clock, purchases):
    first = expire_package_purchases.delay()
    second = expire_package_purchases.delay()

    assert (first.get(), second.get()) == (2, 0)
    assert statuses(purchases)["lapsed"] == Status.EXPIRED
