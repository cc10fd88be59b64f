import datetime as dt
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from clients.tests.factories import ClientFactory
from crm_project.tests.admin_testing import (
    ChangelistCase,
    add_url,
    change_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
    form_data,
    messages_of,
    staff_user,
)
from packages.models import Package, PackagePurchase, Payment
from services.tests.factories import ServiceFactory

from .factories import PackageFactory, PackagePurchaseFactory, PaymentFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% a receipt\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def pdf_receipt(name="receipt.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def make_package(i: int) -> Package:
    return PackageFactory(
        name=f"Package {i}",
        services=[ServiceFactory(name=f"Service {i}a"), ServiceFactory()],
    )


def make_purchase(i: int) -> PackagePurchase:
    client = ClientFactory(first_name=f"Firstname{i}", last_name=f"Lastname{i}")
    return PackagePurchaseFactory(client=client, package=make_package(i))


def make_payment(i: int) -> Payment:
    purchase = make_purchase(i)
    return PaymentFactory(
        client=purchase.client,
        purchase=purchase,
        reference=f"ref-{i}",
        receipt=pdf_receipt() if i % 2 else "",
    )


# model, row maker, search term, which row the term finds, query budget (on
# PostgreSQL; SQLite runs one fewer on the big lists, whose paginator first reads
# PostgreSQL's row estimate)
ADMINS = {
    "package": ChangelistCase(Package, make_package, "Package 3", 3, 7),
    "purchase": ChangelistCase(PackagePurchase, make_purchase, "Lastname3", 3, 8),
    "payment": ChangelistCase(Payment, make_payment, "Lastname3", 3, 7),
}


@pytest.mark.parametrize("name", ADMINS)
def test_changelist_search_filters_add_and_change_pages(admin_client, name):
    check_changelist_pages(admin_client, ADMINS[name])


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", ADMINS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, rows
):
    check_query_budget(admin_client, django_assert_max_num_queries, ADMINS[name], rows)


# --- Packages -------------------------------------------------------------------------


def test_package_list_compares_with_buying_sessions_one_by_one(admin_client):
    PackageFactory(
        name="Duo",
        sessions=10,
        price=Decimal("1000.00"),
        min_sessions_per_week=2,
        max_sessions_per_week=3,
        services=[
            ServiceFactory(price=Decimal("50.00")),
            ServiceFactory(price=Decimal("70.00")),
        ],
    )

    response = admin_client.get(changelist_url(Package))

    package = response.context["cl"].result_list[0]
    model_admin = admin.site.get_model_admin(Package)
    assert model_admin.individual_value(package) == Decimal("1200.00")
    assert "1200.00" in response.content.decode()
    assert "200.00" in str(model_admin.saving(package))
    assert model_admin.per_week(package) == "2–3"


def test_a_weekly_range_upside_down_is_a_form_error(admin_client):
    service = ServiceFactory()

    response = admin_client.post(
        add_url(Package),
        {
            "name": "Upside down",
            "services": [service.pk],
            "sessions": "10",
            "min_sessions_per_week": "3",
            "max_sessions_per_week": "2",
            "validity_days": "30",
            "price": "100",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "max_sessions_per_week" in response.context["adminform"].form.errors
    assert not Package.objects.exists()


# --- Purchases ------------------------------------------------------------------------


def test_adding_a_purchase_sells_it_with_its_payment(admin_client, admin_user):
    client = ClientFactory()
    package = PackageFactory(price=Decimal("400.00"), validity_days=30)
    page = admin_client.get(add_url(PackagePurchase))

    response = admin_client.post(
        add_url(PackagePurchase),
        form_data(
            page,
            client=str(client.pk),
            package=str(package.pk),
            payment_method=Payment.Method.CASH,
            reference="till 2",
            receipt=pdf_receipt(),
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    purchase = PackagePurchase.objects.get()
    assert purchase.client == client
    assert purchase.price_paid == Decimal("400.00")
    assert purchase.sessions_total == package.sessions
    assert purchase.expires_on == timezone.localdate() + dt.timedelta(days=30)
    assert purchase.sold_by == admin_user
    payment = Payment.objects.get()
    assert payment.purchase == purchase
    assert payment.amount == Decimal("400.00")
    assert payment.method == Payment.Method.CASH
    assert payment.received_by == admin_user
    assert payment.receipt.name.endswith(".pdf")


def test_a_sale_at_a_given_price(admin_client):
    client = ClientFactory()
    package = PackageFactory(price=Decimal("400.00"))
    page = admin_client.get(add_url(PackagePurchase))

    admin_client.post(
        add_url(PackagePurchase),
        form_data(
            page,
            client=str(client.pk),
            package=str(package.pk),
            price_paid="350.00",
            payment_method=Payment.Method.CARD,
        ),
    )

    assert PackagePurchase.objects.get().price_paid == Decimal("350.00")
    assert Payment.objects.get().amount == Decimal("350.00")


def test_a_package_off_sale_cannot_be_sold(admin_client):
    client = ClientFactory()
    package = PackageFactory(is_active=False)
    page = admin_client.get(add_url(PackagePurchase))

    response = admin_client.post(
        add_url(PackagePurchase),
        form_data(
            page,
            client=str(client.pk),
            package=str(package.pk),
            payment_method=Payment.Method.CARD,
        ),
    )

    assert response.status_code == 200
    assert "package" in response.context["adminform"].form.errors
    assert not PackagePurchase.objects.exists()


def test_sessions_and_status_are_read_only_on_a_purchase(admin_client):
    purchase = PackagePurchaseFactory(sessions_used=2)
    page = admin_client.get(change_url(purchase))
    new_expiry = purchase.expires_on + dt.timedelta(days=10)

    response = admin_client.post(
        change_url(purchase),
        form_data(
            page,
            expires_on=new_expiry.isoformat(),
            sessions_used="0",
            status=PackagePurchase.Status.CANCELLED,
        ),
    )

    assert response.status_code == 302
    purchase.refresh_from_db()
    assert purchase.expires_on == new_expiry
    assert purchase.sessions_used == 2
    assert purchase.status == PackagePurchase.Status.ACTIVE


def test_a_purchase_cannot_expire_before_it_was_bought(admin_client):
    purchase = PackagePurchaseFactory()
    page = admin_client.get(change_url(purchase))

    response = admin_client.post(
        change_url(purchase),
        form_data(
            page,
            expires_on=(purchase.purchased_on - dt.timedelta(days=1)).isoformat(),
        ),
    )

    assert response.status_code == 200
    assert "expires_on" in response.context["adminform"].form.errors


def test_cancel_action_reports_cancelled_and_skipped(admin_client):
    active = [PackagePurchaseFactory(), PackagePurchaseFactory()]
    done = PackagePurchaseFactory(status=PackagePurchase.Status.CANCELLED)

    response = admin_client.post(
        changelist_url(PackagePurchase),
        {
            "action": "cancel_purchases",
            "_selected_action": [p.pk for p in [*active, done]],
        },
    )

    assert response.status_code == 302
    assert set(PackagePurchase.objects.values_list("status", flat=True).distinct()) == {
        PackagePurchase.Status.CANCELLED
    }
    assert messages_of(response) == [
        "2 purchases cancelled.",
        "1 skipped: already cancelled",
    ]


# --- Payments and receipts ------------------------------------------------------------


def test_adding_a_payment_records_who_received_it(admin_client, admin_user):
    client = ClientFactory()
    page = admin_client.get(add_url(Payment))

    response = admin_client.post(
        add_url(Payment),
        form_data(
            page,
            client=str(client.pk),
            amount="45.00",
            method=Payment.Method.CARD,
            receipt=pdf_receipt(),
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    payment = Payment.objects.get()
    assert payment.received_by == admin_user
    assert payment.amount == Decimal("45.00")


def test_a_receipt_that_is_not_what_its_name_says_is_a_form_error(admin_client):
    client = ClientFactory()
    page = admin_client.get(add_url(Payment))

    response = admin_client.post(
        add_url(Payment),
        form_data(
            page,
            client=str(client.pk),
            amount="45.00",
            method=Payment.Method.CARD,
            receipt=pdf_receipt(content=PNG),
        ),
    )

    assert response.status_code == 200
    assert "receipt" in response.context["adminform"].form.errors
    assert not Payment.objects.exists()


def test_a_payment_for_another_clients_purchase_is_a_form_error(admin_client):
    purchase = PackagePurchaseFactory()
    page = admin_client.get(add_url(Payment))

    response = admin_client.post(
        add_url(Payment),
        form_data(
            page,
            client=str(ClientFactory().pk),
            purchase=str(purchase.pk),
            amount="45.00",
            method=Payment.Method.CARD,
        ),
    )

    assert response.status_code == 200
    assert "purchase" in response.context["adminform"].form.errors


def receipt_url(payment) -> str:
    return reverse("admin:packages_payment_receipt", args=[payment.pk])


def test_a_receipt_is_served_to_staff_who_may_see_payments(admin_client, client):
    payment = PaymentFactory(receipt=pdf_receipt())
    cashier = staff_user("packages.view_payment")
    client.force_login(cashier)

    for http in (admin_client, client):
        response = http.get(receipt_url(payment))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"


def test_a_receipt_is_refused_to_others(client):
    payment = PaymentFactory(receipt=pdf_receipt())

    anonymous = client.get(receipt_url(payment))
    client.force_login(staff_user("clients.view_client"))
    unpermitted = client.get(receipt_url(payment))
    client.force_login(staff_user("packages.view_payment", is_staff=False))
    not_staff = client.get(receipt_url(payment))

    assert anonymous.status_code == 302
    assert unpermitted.status_code == 403
    assert not_staff.status_code == 302


def test_receipts_are_linked_through_the_admin_not_media_url(admin_client, settings):
    payment = PaymentFactory(receipt=pdf_receipt())

    listing = admin_client.get(changelist_url(Payment)).content.decode()
    page = admin_client.get(change_url(payment)).content.decode()

    for html in (listing, page):
        assert receipt_url(payment) in html
        assert f"/{settings.MEDIA_URL}receipts/" not in html


def test_a_payment_without_receipt_has_no_receipt_page(admin_client):
    payment = PaymentFactory()

    assert admin_client.get(receipt_url(payment)).status_code == 404


def test_editing_a_payment_keeps_its_receipt(admin_client):
    payment = PaymentFactory(receipt=pdf_receipt())
    stored = payment.receipt.name
    page = admin_client.get(change_url(payment))

    response = admin_client.post(
        change_url(payment), form_data(page, reference="corrected")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    payment.refresh_from_db()
    assert payment.reference == "corrected"
    assert payment.receipt.name == stored


def test_a_payment_whose_receipt_file_is_gone_can_still_be_edited(admin_client):
    payment = PaymentFactory(receipt=pdf_receipt())
    page = admin_client.get(change_url(payment))
    payment.receipt.storage.delete(payment.receipt.name)

    response = admin_client.post(
        change_url(payment), form_data(page, reference="corrected")
    )

    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.reference == "corrected"
    assert admin_client.get(receipt_url(payment)).status_code == 404
