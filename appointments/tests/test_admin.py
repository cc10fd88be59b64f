import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from appointments import services
from appointments.models import Appointment, AppointmentStatusHistory, Status
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
    result_pks,
)
from packages.models import PackagePurchase
from packages.tests.factories import PackageFactory, PackagePurchaseFactory
from services.tests.factories import ContraindicationFactory, ServiceFactory

from .factories import AppointmentFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def a_colleague(i: int):
    user, _ = User.objects.get_or_create(
        username=f"therapist-{i % 3}", defaults={"is_staff": True}
    )
    return user


def make_appointment(i: int) -> Appointment:
    client = ClientFactory(first_name=f"Firstname{i}", last_name=f"Lastname{i}")
    purchase = PackagePurchaseFactory(client=client) if i % 2 else None
    return AppointmentFactory(client=client, staff=a_colleague(i), purchase=purchase)


def make_history(i: int) -> AppointmentStatusHistory:
    return make_appointment(i).status_history.get()


# model, row maker, search term, which row the term finds, query budget (on
# PostgreSQL; SQLite runs one fewer on the big lists, whose paginator first reads
# PostgreSQL's row estimate)
ADMINS = {
    "appointment": ChangelistCase(Appointment, make_appointment, "Lastname3", 3, 10),
    "history": ChangelistCase(
        AppointmentStatusHistory, make_history, "Lastname3", 3, 7, has_add_page=False
    ),
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


def test_phone_search_finds_the_clients_appointments(admin_client):
    wanted = AppointmentFactory(client=ClientFactory(phone="+14155550142"))
    AppointmentFactory(client=ClientFactory(phone="+14155550143"))

    response = admin_client.get(changelist_url(Appointment), {"q": "(415) 555-0142"})

    assert result_pks(response) == {wanted.pk}


def test_the_date_filter_shows_the_day_in_the_business_time_zone(admin_client):
    now = timezone.localtime()
    today = AppointmentFactory(start_at=now.replace(hour=12, minute=0))
    AppointmentFactory(start_at=now.replace(hour=12, minute=0) + dt.timedelta(days=2))

    response = admin_client.get(changelist_url(Appointment), {"when": "today"})

    assert result_pks(response) == {today.pk}


def test_the_staff_filter_lists_staff_members_only(admin_client):
    AppointmentFactory(staff=a_colleague(0))
    User.objects.create(username="a-customer-login", is_staff=False)

    response = admin_client.get(changelist_url(Appointment))

    staff_filter = next(
        spec
        for spec in response.context["cl"].filter_specs
        if getattr(spec, "field_path", "") == "staff"
    )
    names = {label for _pk, label in staff_filter.lookup_choices}
    assert "therapist-0" in names
    assert "a-customer-login" not in names


def test_status_history_is_read_only(admin_client):
    history = make_history(0)

    assert admin_client.get(add_url(AppointmentStatusHistory)).status_code == 403
    page = admin_client.get(change_url(history))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]


# --- Booking from the add form --------------------------------------------------------


def local_start(days: int = 2, hour: int = 10) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return dt.datetime.combine(
        day, dt.time(hour, 0), tzinfo=timezone.get_current_timezone()
    )


def add_data(admin_client, *, client, service, start=None, **fields) -> dict:
    start = start or local_start()
    page = admin_client.get(add_url(Appointment))
    return form_data(
        page,
        client=str(client.pk),
        service=str(service.pk),
        start_at_0=start.date().isoformat(),
        start_at_1=start.strftime("%H:%M:%S"),
        **fields,
    )


def test_adding_an_appointment_books_it_through_the_service(admin_client, admin_user):
    client = ClientFactory()
    service = ServiceFactory(price=Decimal("65.00"), duration_minutes=15)

    response = admin_client.post(
        add_url(Appointment),
        add_data(admin_client, client=client, service=service, notes="Window seat"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    appointment = Appointment.objects.get()
    assert appointment.start_at == local_start()
    assert appointment.end_at == local_start() + dt.timedelta(minutes=15)
    assert appointment.price == Decimal("65.00")
    assert appointment.booked_by == admin_user
    assert appointment.notes == "Window seat"
    history = appointment.status_history.get()
    assert (history.from_status, history.to_status) == ("", Status.SCHEDULED)
    assert history.changed_by == admin_user


def test_booking_on_a_package_costs_a_share_of_its_price(admin_client):
    client = ClientFactory()
    service = ServiceFactory()
    package = PackageFactory(sessions=8, price=Decimal("400.00"), services=[service])
    purchase = PackagePurchaseFactory(client=client, package=package)

    response = admin_client.post(
        add_url(Appointment),
        add_data(
            admin_client, client=client, service=service, purchase=str(purchase.pk)
        ),
    )

    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.purchase == purchase
    assert appointment.price == Decimal("50.00")


def test_booking_on_another_clients_package_is_a_form_error(admin_client):
    service = ServiceFactory()
    purchase = PackagePurchaseFactory(package=PackageFactory(services=[service]))

    response = admin_client.post(
        add_url(Appointment),
        add_data(
            admin_client,
            client=ClientFactory(),
            service=service,
            purchase=str(purchase.pk),
        ),
    )

    assert response.status_code == 200
    assert "purchase" in response.context["adminform"].form.errors
    assert not Appointment.objects.exists()


@pytest.fixture
def contraindicated():
    condition = ContraindicationFactory(name="Pregnancy")
    client = ClientFactory()
    client.conditions.add(condition)
    service = ServiceFactory(name="Cryotherapy")
    service.contraindications.add(condition)
    return client, service


def test_a_contraindicated_booking_is_refused_without_override(
    admin_client, contraindicated
):
    client, service = contraindicated

    response = admin_client.post(
        add_url(Appointment), add_data(admin_client, client=client, service=service)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Pregnancy" in errors["contraindication_override"][0]
    assert not Appointment.objects.exists()


def test_an_override_needs_a_reason(admin_client, contraindicated):
    client, service = contraindicated

    response = admin_client.post(
        add_url(Appointment),
        add_data(
            admin_client, client=client, service=service, contraindication_override="on"
        ),
    )

    assert response.status_code == 200
    assert "override_reason" in response.context["adminform"].form.errors
    assert not Appointment.objects.exists()


def test_a_contraindicated_booking_with_override_and_reason_is_recorded(
    admin_client, admin_user, contraindicated
):
    client, service = contraindicated

    response = admin_client.post(
        add_url(Appointment),
        add_data(
            admin_client,
            client=client,
            service=service,
            contraindication_override="on",
            override_reason="Doctor's note on file",
        ),
    )

    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.contraindication_override
    assert appointment.override_reason == "Doctor's note on file"
    assert appointment.override_by == admin_user
    assert "Doctor's note on file" in appointment.status_history.get().note


# --- Status changes from the change form ----------------------------------------------


def test_the_status_offers_only_the_allowed_next_statuses(admin_client):
    appointment = AppointmentFactory(status=Status.CANCELLED)

    page = admin_client.get(change_url(appointment))

    choices = page.context["adminform"].form.fields["status"].widget.choices
    assert {value for value, _label in choices} == {Status.CANCELLED, Status.SCHEDULED}


def test_a_forbidden_status_change_is_a_form_error_and_writes_nothing(admin_client):
    appointment = AppointmentFactory(status=Status.CANCELLED)
    page = admin_client.get(change_url(appointment))

    response = admin_client.post(
        change_url(appointment), form_data(page, status=Status.COMPLETED)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "from Cancelled to Completed" in errors["status"][0]
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED
    assert appointment.status_history.count() == 1


def test_a_status_change_goes_through_the_service_with_a_note(admin_client, admin_user):
    appointment = AppointmentFactory()
    page = admin_client.get(change_url(appointment))

    response = admin_client.post(
        change_url(appointment),
        form_data(page, status=Status.CONFIRMED, status_note="Called the client"),
    )

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    change = appointment.status_history.order_by("-id").first()
    assert (change.from_status, change.to_status) == (
        Status.SCHEDULED,
        Status.CONFIRMED,
    )
    assert change.changed_by == admin_user
    assert change.note == "Called the client"


def test_completing_from_the_form_uses_one_package_session(admin_client):
    client = ClientFactory()
    purchase = PackagePurchaseFactory(client=client)
    appointment = AppointmentFactory(client=client, purchase=purchase)
    services.check_in_appointment(appointment)
    page = admin_client.get(change_url(appointment))

    response = admin_client.post(
        change_url(appointment), form_data(page, status=Status.COMPLETED)
    )

    assert response.status_code == 302
    purchase.refresh_from_db()
    assert purchase.sessions_used == 1


def test_moving_an_appointment_recomputes_its_end(admin_client):
    service = ServiceFactory(duration_minutes=45)
    appointment = AppointmentFactory(service=service)
    page = admin_client.get(change_url(appointment))
    start = local_start(days=3, hour=16)

    response = admin_client.post(
        change_url(appointment),
        form_data(
            page,
            start_at_0=start.date().isoformat(),
            start_at_1=start.strftime("%H:%M:%S"),
        ),
    )

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start_at == start
    assert appointment.end_at == start + dt.timedelta(minutes=45)
    assert appointment.status_history.count() == 1


def test_a_completed_appointment_keeps_its_client(admin_client):
    appointment = AppointmentFactory()
    services.check_in_appointment(appointment)
    services.complete_appointment(appointment)
    page = admin_client.get(change_url(appointment))

    response = admin_client.post(
        change_url(appointment), form_data(page, client=str(ClientFactory().pk))
    )

    assert response.status_code == 200
    assert "client" in response.context["adminform"].form.errors


def test_a_session_taken_meanwhile_is_a_message_not_a_500(admin_client):
    """Completing while another desk used the last session: the service refuses."""
    client = ClientFactory()
    purchase = PackagePurchaseFactory(client=client)
    appointment = AppointmentFactory(client=client, purchase=purchase)
    services.check_in_appointment(appointment)
    page = admin_client.get(change_url(appointment))
    PackagePurchase.objects.filter(pk=purchase.pk).update(
        sessions_used=purchase.sessions_total,
        status=PackagePurchase.Status.EXHAUSTED,
    )

    response = admin_client.post(
        change_url(appointment), form_data(page, status=Status.COMPLETED)
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(appointment)
    assert any("no session left" in m for m in messages_of(response))
    appointment.refresh_from_db()
    assert appointment.status == Status.CHECKED_IN
    assert not appointment.status_history.filter(to_status=Status.COMPLETED).exists()


def test_feedback_is_on_completed_appointments_only(admin_client):
    open_one = AppointmentFactory()
    done = AppointmentFactory()
    services.check_in_appointment(done)
    services.complete_appointment(done)

    open_page = admin_client.get(change_url(open_one))
    done_page = admin_client.get(change_url(done))
    response = admin_client.post(
        change_url(done),
        form_data(done_page, feedback_rating="5", feedback_comment="Lovely"),
    )

    assert "feedback_rating" not in open_page.context["adminform"].form.fields
    assert response.status_code == 302
    done.refresh_from_db()
    assert (done.feedback_rating, done.feedback_comment) == (5, "Lovely")


# --- Bulk actions ---------------------------------------------------------------------


def run_action(admin_client, action, appointments):
    return admin_client.post(
        changelist_url(Appointment),
        {"action": action, "_selected_action": [a.pk for a in appointments]},
    )


def test_confirm_action_reports_changed_and_skipped_with_reasons(
    admin_client, admin_user
):
    scheduled = AppointmentFactory.create_batch(2)
    cancelled = AppointmentFactory(status=Status.CANCELLED)
    confirmed = AppointmentFactory(status=Status.CONFIRMED)

    response = run_action(
        admin_client, "confirm_selected", [*scheduled, cancelled, confirmed]
    )

    assert response.status_code == 302
    reported = messages_of(response)
    assert reported[0] == "2 appointments confirmed."
    assert sorted(reported[1:]) == [
        "1 skipped: already confirmed",
        "1 skipped: cannot go from Cancelled to Confirmed",
    ]
    for appointment in scheduled:
        appointment.refresh_from_db()
        assert appointment.status == Status.CONFIRMED
        assert appointment.status_history.latest("id").changed_by == admin_user
    cancelled.refresh_from_db()
    assert cancelled.status == Status.CANCELLED


def test_complete_action_skips_a_used_up_package_and_says_why(admin_client):
    client = ClientFactory()
    used_up = PackagePurchaseFactory(client=client)
    on_used_up = AppointmentFactory(client=client, purchase=used_up)
    ready = AppointmentFactory()
    for appointment in (on_used_up, ready):
        services.check_in_appointment(appointment)
    not_arrived = AppointmentFactory()
    PackagePurchase.objects.filter(pk=used_up.pk).update(
        sessions_used=used_up.sessions_total, status=PackagePurchase.Status.EXHAUSTED
    )

    response = run_action(
        admin_client, "complete_selected", [on_used_up, ready, not_arrived]
    )

    reported = messages_of(response)
    assert reported[0] == "1 appointment completed."
    assert sorted(reported[1:]) == [
        "1 skipped: cannot go from Scheduled to Completed",
        "1 skipped: no session left on the package",
    ]
    on_used_up.refresh_from_db()
    assert on_used_up.status == Status.CHECKED_IN
    ready.refresh_from_db()
    assert ready.status == Status.COMPLETED


@pytest.mark.parametrize(
    ("action", "status", "message"),
    [
        ("check_in_selected", Status.CHECKED_IN, "1 appointment checked in."),
        ("cancel_selected", Status.CANCELLED, "1 appointment cancelled."),
        ("no_show_selected", Status.NO_SHOW, "1 appointment marked as no-show."),
    ],
)
def test_each_action_moves_a_scheduled_appointment(
    admin_client, action, status, message
):
    appointment = AppointmentFactory()

    response = run_action(admin_client, action, [appointment])

    assert messages_of(response) == [message]
    appointment.refresh_from_db()
    assert appointment.status == status


def test_a_name_matching_many_clients_still_finds_their_appointments(
    admin_client, monkeypatch
):
    monkeypatch.setattr("crm_project.admin_tools.MAX_NAME_MATCHES", 1)
    wanted = [
        AppointmentFactory(client=ClientFactory(last_name="Stewart")) for _ in range(2)
    ]
    AppointmentFactory(client=ClientFactory(last_name="Ortiz"))

    response = admin_client.get(changelist_url(Appointment), {"q": "stew"})

    assert result_pks(response) == {a.pk for a in wanted}


# --- Dashboard ------------------------------------------------------------------------


def test_the_dashboard_shows_today_and_the_packages_expiring_this_week(admin_client):
    client = ClientFactory(first_name="Maria", last_name="Lopez")
    AppointmentFactory(client=client, start_at=local_start(days=0, hour=12))
    AppointmentFactory(start_at=local_start(days=3))
    expiring = PackagePurchaseFactory(
        client=ClientFactory(last_name="Expiring"),
        expires_on=timezone.localdate() + dt.timedelta(days=2),
    )

    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert len(response.context["todays_appointments"]) == 1
    assert response.context["expiring_purchases"] == [expiring]
    html = response.content.decode()
    assert change_url(client) in html
    assert change_url(expiring) in html
    today_list = admin_client.get(changelist_url(Appointment), {"when": "today"})
    assert today_list.status_code == 200
    assert len(result_pks(today_list)) == 1
    week_list = admin_client.get(
        changelist_url(PackagePurchase),
        {"status__exact": "active", "expiry": "week"},
    )
    assert result_pks(week_list) == {expiring.pk}


# --- A receptionist's day, with the role's own permissions ----------------------------


@pytest.fixture
def receptionist(client):
    from django.contrib.auth.models import Group

    from crm_project.setup import ensure_roles

    ensure_roles()
    user = User.objects.create(username="front-desk", is_staff=True)
    user.groups.add(Group.objects.get(name="receptionist"))
    client.force_login(user)
    return user


def test_a_receptionist_books_and_checks_in_without_seeing_medical_details(
    client, receptionist
):
    patient = ClientFactory(medical_history="Asthma")
    service = ServiceFactory()
    therapist = a_colleague(0)

    for model in (Appointment, PackagePurchase, AppointmentStatusHistory):
        assert client.get(changelist_url(model)).status_code == 200
    client_page = client.get(change_url(patient))
    assert client_page.status_code == 200
    assert "Asthma" not in client_page.content.decode()
    staff_lookup = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "appointments",
            "model_name": "appointment",
            "field_name": "staff",
            "term": "therapist",
        },
    )
    assert staff_lookup.status_code == 200
    booked = client.post(
        add_url(Appointment),
        add_data(client, client=patient, service=service, staff=str(therapist.pk)),
    )
    assert booked.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.booked_by == receptionist
    checked_in = run_action(client, "check_in_selected", [appointment])
    assert messages_of(checked_in)[-1] == "1 appointment checked in."


def test_a_refused_booking_does_not_name_conditions_to_staff_without_medical_access(
    client, receptionist, contraindicated
):
    patient, service = contraindicated

    response = client.post(
        add_url(Appointment), add_data(client, client=patient, service=service)
    )

    assert response.status_code == 200
    (message,) = response.context["adminform"].form.errors["contraindication_override"]
    assert "contraindicated for one of this client's conditions" in message
    assert "Pregnancy" not in response.content.decode()
    assert not Appointment.objects.exists()
