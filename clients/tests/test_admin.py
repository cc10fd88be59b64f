from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from appointments.tests.factories import AppointmentFactory
from clients.models import Client, ClientNote, Interaction, Tag
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
    staff_user,
)
from packages.tests.factories import PackagePurchaseFactory
from services.tests.factories import ContraindicationFactory

from .factories import (
    ClientFactory,
    ClientNoteFactory,
    InteractionFactory,
    TagFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

User = get_user_model()


def make_tag(i: int) -> Tag:
    tag = TagFactory(name=f"tag {i}")
    ClientFactory().tags.add(tag)
    return tag


def make_client(i: int) -> Client:
    client = ClientFactory(first_name=f"Firstname{i}", last_name=f"Lastname{i}")
    client.tags.add(TagFactory(name=f"tag {i % 3}"))
    return client


def a_colleague(i: int):
    # A few accounts, without passwords: hashing one per row is slow, and a query
    # per row would show as well with three users as with fifty.
    user, _ = User.objects.get_or_create(
        username=f"colleague-{i % 3}", defaults={"is_staff": True}
    )
    return user


def make_note(i: int) -> ClientNote:
    return ClientNoteFactory(
        body=f"Note number {i} about the knee", author=a_colleague(i)
    )


def make_interaction(i: int) -> Interaction:
    return InteractionFactory(subject=f"Call number {i}", handled_by=a_colleague(i))


# model, row maker, search term, which row the term finds, query budget (on
# PostgreSQL; SQLite runs one fewer on the big lists, whose paginator first reads
# PostgreSQL's row estimate)
ADMINS = {
    "tag": ChangelistCase(Tag, make_tag, "tag 3", 3, 7, others_listed=True),
    "client": ChangelistCase(
        Client, make_client, "Lastname3", 3, 9, others_listed=True
    ),
    "note": ChangelistCase(ClientNote, make_note, "number 3", 3, 6, others_listed=True),
    "interaction": ChangelistCase(
        Interaction, make_interaction, "number 3", 3, 7, others_listed=True
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


# --- Client form ----------------------------------------------------------------------


def client_add_data(admin_client, **fields) -> dict:
    page = admin_client.get(add_url(Client))
    data = form_data(page)
    data.update(
        {"first_name": "Ana", "last_name": "López", "preferred_language": "en"},
        **fields,
    )
    return data


def test_adding_a_client_normalises_phone_and_email_and_signs_the_note(
    admin_client, admin_user
):
    data = client_add_data(
        admin_client,
        phone="(415) 555-0199",
        email="  Ana.Lopez@Example.COM ",
        emergency_contact_phone="415.555.0198",
        **{"client_notes-TOTAL_FORMS": "1", "client_notes-0-body": "First visit"},
    )

    response = admin_client.post(add_url(Client), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    client = Client.objects.get(first_name="Ana")
    assert client.phone == "+14155550199"
    assert client.email == "ana.lopez@example.com"
    assert client.emergency_contact_phone == "+14155550198"
    note = client.client_notes.get()
    assert note.body == "First visit"
    assert note.author == admin_user


def test_an_invalid_phone_is_a_form_error(admin_client):
    response = admin_client.post(
        add_url(Client), client_add_data(admin_client, phone="12345")
    )

    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    assert not Client.objects.exists()


def test_a_phone_already_used_by_another_client_is_a_form_error(admin_client):
    ClientFactory(first_name="Bea", last_name="Ruiz", phone="+14155550142")

    response = admin_client.post(
        add_url(Client), client_add_data(admin_client, phone="+1 415 555 0142")
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "Bea Ruiz" in errors["phone"][0]
    assert Client.objects.count() == 1


def test_an_email_already_used_in_another_case_is_a_form_error(admin_client):
    ClientFactory(email="bea@example.com")

    response = admin_client.post(
        add_url(Client), client_add_data(admin_client, email="BEA@example.com")
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert Client.objects.count() == 1


def test_a_duplicate_that_slips_past_validation_is_a_message_not_a_500(admin_client):
    """Two receptionists saving the same phone at once: the constraint decides."""
    ClientFactory(phone="+14155550142")
    data = client_add_data(admin_client, phone="+14155550142")

    with (
        mock.patch(
            "clients.forms.ClientAdminForm._other_clients",
            return_value=Client.objects.none(),
        ),
        mock.patch.object(Client, "validate_constraints"),
    ):
        response = admin_client.post(add_url(Client), data)

    assert response.status_code == 302
    assert any("conflicts" in m for m in messages_of(response))
    assert Client.objects.count() == 1


def test_editing_a_client_keeps_its_own_phone_and_email(admin_client):
    client = ClientFactory(phone="+14155550142", email="bea@example.com")
    # Rows in every tab: the read-only ones must not get in the way of a save.
    purchase = PackagePurchaseFactory(client=client)
    AppointmentFactory(client=client, purchase=purchase)
    ClientNoteFactory(client=client)
    InteractionFactory(client=client, handled_by=UserFactory())
    page = admin_client.get(change_url(client))

    response = admin_client.post(
        change_url(client), form_data(page, first_name="Beatriz")
    )

    assert response.status_code == 302
    client.refresh_from_db()
    assert client.first_name == "Beatriz"
    assert client.phone == "+14155550142"


# --- Client search --------------------------------------------------------------------


@pytest.mark.parametrize(
    "term", ["(415) 555-0142", "415.555.0142", "+1 415 555 0142", "4155550142"]
)
def test_phone_search_finds_a_client_whatever_the_format(admin_client, term):
    wanted = ClientFactory(phone="+14155550142")
    ClientFactory(phone="+14155550143")

    response = admin_client.get(changelist_url(Client), {"q": term})

    assert result_pks(response) == {wanted.pk}


def test_email_search_ignores_case(admin_client):
    wanted = ClientFactory(email="bea.ruiz@example.com")
    ClientFactory(email="other@example.com")

    response = admin_client.get(changelist_url(Client), {"q": "Bea.Ruiz@Example.com"})

    assert result_pks(response) == {wanted.pk}


def test_name_search_matches_every_word_and_referral_codes(admin_client):
    wanted = ClientFactory(first_name="Beatriz", last_name="Ruiz")
    ClientFactory(first_name="Beatriz", last_name="Soto")

    by_name = admin_client.get(changelist_url(Client), {"q": "beat ruiz"})
    by_code = admin_client.get(
        changelist_url(Client), {"q": wanted.referral_code.lower()}
    )

    assert result_pks(by_name) == {wanted.pk}
    assert result_pks(by_code) == {wanted.pk}


def test_search_by_phone_compiles_to_an_exact_match(admin_client):
    model_admin = admin.site.get_model_admin(Client)

    queryset, duplicates = model_admin.get_search_results(
        None, Client.objects.all(), "(415) 555-0142"
    )
    email_qs, _ = model_admin.get_search_results(
        None, Client.objects.all(), "Bea@Example.com"
    )

    assert not duplicates
    sql = str(queryset.query)
    assert "+14155550142" in sql and "LIKE" not in sql.upper()
    email_sql = str(email_qs.query)
    assert "LOWER(" in email_sql.upper() and "UPPER(" not in email_sql.upper()


# --- Medical information --------------------------------------------------------------

CLIENT_EDITOR = ("clients.view_client", "clients.change_client")


def test_medical_fields_are_hidden_and_unwritable_without_the_permission(client):
    user = staff_user(*CLIENT_EDITOR)
    patient = ClientFactory(medical_history="Asthma", allergies="Latex")
    client.force_login(user)

    page = client.get(change_url(patient))

    form = page.context["adminform"].form
    assert not {"medical_history", "allergies", "conditions"} & set(form.fields)
    html = page.content.decode()
    assert "Asthma" not in html and "Latex" not in html
    response = client.post(
        change_url(patient), form_data(page, medical_history="Nothing at all")
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.medical_history == "Asthma"


def test_medical_fields_are_visible_and_editable_with_the_permission(client):
    user = staff_user(*CLIENT_EDITOR, "clients.view_medical_info")
    patient = ClientFactory(medical_history="Asthma")
    condition = ContraindicationFactory(name="Pregnancy")
    client.force_login(user)

    page = client.get(change_url(patient))

    assert {"medical_history", "allergies", "conditions"} <= set(
        page.context["adminform"].form.fields
    )
    assert "Asthma" in page.content.decode()
    response = client.post(
        change_url(patient),
        form_data(page, allergies="Latex", conditions=[str(condition.pk)]),
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.allergies == "Latex"
    assert list(patient.conditions.all()) == [condition]


# --- Notes ----------------------------------------------------------------------------

NOTE_READER = (
    "clients.view_client",
    "clients.change_client",
    "clients.view_clientnote",
    "clients.change_clientnote",
)


def test_a_private_note_is_hidden_from_everyone_but_its_author(client):
    author = staff_user(*NOTE_READER)
    colleague = staff_user(*NOTE_READER)
    patient = ClientFactory()
    private = ClientNoteFactory(
        client=patient, author=author, private=True, body="Secret"
    )
    public = ClientNoteFactory(client=patient, author=author, body="Open")

    client.force_login(colleague)
    listing = client.get(changelist_url(ClientNote))
    page = client.get(change_url(patient))
    direct = client.get(change_url(private))

    assert result_pks(listing) == {public.pk}
    assert "Secret" not in page.content.decode()
    assert "Open" in page.content.decode()
    assert direct.status_code == 302  # the admin's "does not exist" redirect

    client.force_login(author)
    assert result_pks(client.get(changelist_url(ClientNote))) == {
        public.pk,
        private.pk,
    }
    assert "Secret" in client.get(change_url(patient)).content.decode()


def test_a_colleague_saving_the_client_leaves_private_notes_alone(client):
    author = staff_user(*NOTE_READER)
    colleague = staff_user(*NOTE_READER)
    patient = ClientFactory()
    private = ClientNoteFactory(client=patient, author=author, private=True)
    client.force_login(colleague)
    page = client.get(change_url(patient))

    response = client.post(change_url(patient), form_data(page))

    assert response.status_code == 302
    private.refresh_from_db()
    assert private.author == author and private.private


def test_a_note_added_on_its_own_page_is_signed_by_the_user(admin_client, admin_user):
    patient = ClientFactory()

    response = admin_client.post(
        add_url(ClientNote), {"client": patient.pk, "body": "Prefers mornings"}
    )

    assert response.status_code == 302
    assert ClientNote.objects.get().author == admin_user


# --- Staff accounts -------------------------------------------------------------------


def test_users_are_registered_with_search_fields(admin_client, admin_user):
    model_admin = admin.site.get_model_admin(User)
    colleague = UserFactory(username="therapist-kim")

    found = admin_client.get(changelist_url(User), {"q": "therapist-kim"})

    assert {"username", "first_name", "last_name", "email"} <= set(
        model_admin.search_fields
    )
    assert result_pks(found) == {colleague.pk}
    assert admin_client.get(add_url(User)).status_code == 200
    assert admin_client.get(change_url(colleague)).status_code == 200


def autocomplete(client, model_name, field_name, app_label="appointments", term=""):
    return client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": app_label,
            "model_name": model_name,
            "field_name": field_name,
            "term": term,
        },
    )


def test_a_receptionist_can_pick_staff_but_not_browse_accounts(client):
    receptionist = staff_user(
        "appointments.view_appointment", "appointments.add_appointment"
    )
    therapist = UserFactory(username="therapist-kim")
    UserFactory(username="kim-customer-account", is_staff=False)
    client.force_login(receptionist)

    response = autocomplete(client, "appointment", "staff", term="kim")

    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(therapist.pk)]
    assert client.get(changelist_url(User)).status_code == 403


def test_whoever_logs_interactions_can_pick_who_handled_them(client):
    receptionist = staff_user("clients.view_interaction", "clients.add_interaction")
    therapist = UserFactory(username="therapist-kim")
    client.force_login(receptionist)

    response = autocomplete(
        client, "interaction", "handled_by", app_label="clients", term="kim"
    )

    assert [r["id"] for r in response.json()["results"]] == [str(therapist.pk)]


def test_staff_lookup_needs_a_form_that_uses_it(client):
    marketer = staff_user("clients.view_client")
    client.force_login(marketer)

    assert autocomplete(client, "appointment", "staff").status_code == 403


def test_client_autocomplete_finds_by_phone(admin_client):
    wanted = ClientFactory(phone="+14155550142")
    ClientFactory()

    response = autocomplete(
        admin_client, "appointment", "client", term="(415) 555-0142"
    )

    assert [r["id"] for r in response.json()["results"]] == [str(wanted.pk)]


def test_the_client_page_links_to_their_full_records(admin_client):
    client = ClientFactory()
    InteractionFactory(client=client)
    InteractionFactory()

    page = admin_client.get(change_url(client)).content.decode()

    for model in ("appointment", "packagepurchase", "payment", "interaction"):
        assert f"/{model}/?client__id__exact={client.pk}" in page
    listing = admin_client.get(
        changelist_url(Interaction), {"client__id__exact": client.pk}
    )
    assert listing.status_code == 200
    assert len(result_pks(listing)) == 1
