import pytest
from django.core import mail
from django.urls import reverse

from clients.models import Client
from clients.tests.factories import ClientFactory
from communications.models import (
    ContactPreferences,
    Message,
    MessageTemplate,
    OptOut,
    Reason,
)
from crm_project.tests.admin_testing import (
    ChangelistCase,
    change_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
    form_data,
    messages_of,
)

from .factories import (
    ContactPreferencesFactory,
    MessageFactory,
    MessageTemplateFactory,
    OptOutFactory,
)

pytestmark = pytest.mark.django_db

Status = Message.Status


def make_message(i: int) -> Message:
    client = ClientFactory(last_name=f"Lastname{i}")
    return MessageFactory(
        client=client,
        to_address=f"person{i}@example.org",
        status=[Status.SENT, Status.FAILED, Status.SKIPPED][i % 3],
        reason=[Reason.ERROR, Reason.OPTED_OUT, ""][i % 3],
        channel=["email", "sms", "whatsapp"][i % 3],
    )


def make_template(i: int) -> MessageTemplate:
    return MessageTemplateFactory(
        kind="campaign",
        channel=["email", "sms"][i % 2],
        language=f"x{i}"[:5],
        subject=f"Subject number {i}",
    )


def make_preferences(i: int) -> ContactPreferences:
    return ContactPreferencesFactory(client=ClientFactory(last_name=f"Lastname{i}"))


def make_opt_out(i: int) -> OptOut:
    return OptOutFactory(client=ClientFactory(last_name=f"Lastname{i}"))


# model, row maker, search term, which row the term finds, query budget (on
# PostgreSQL; SQLite runs one fewer on the big lists).
ADMINS = {
    "message": ChangelistCase(
        Message, make_message, "person3@", 3, 7, has_add_page=False
    ),
    "template": ChangelistCase(
        MessageTemplate, make_template, "number 3", 3, 7, others_listed=True
    ),
    "preferences": ChangelistCase(
        ContactPreferences, make_preferences, "Lastname3", 3, 7
    ),
    "opt_out": ChangelistCase(OptOut, make_opt_out, "Lastname3", 3, 7),
}


@pytest.mark.parametrize("name", ADMINS)
def test_changelist_search_filters_add_and_change_pages(admin_client, name):
    check_changelist_pages(admin_client, ADMINS[name])


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", ADMINS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, rows
):
    MessageTemplate.objects.all().delete()  # the shipped ones, loaded after migrate
    check_query_budget(admin_client, django_assert_max_num_queries, ADMINS[name], rows)


def test_the_message_log_cannot_be_edited(admin_client):
    message = MessageFactory()

    page = admin_client.get(change_url(message))
    post = admin_client.post(change_url(message), {"subject": "changed"})

    assert page.status_code == 200
    assert "adminform" in page.context
    assert post.status_code == 403
    message.refresh_from_db()
    assert message.subject != "changed"


def test_retry_failed_queues_failed_messages_and_reports_the_rest(
    admin_client, django_capture_on_commit_callbacks
):
    failed = MessageFactory(status=Status.FAILED, reason=Reason.ERROR, attempts=3)
    skipped = MessageFactory(status=Status.SKIPPED, reason=Reason.OPTED_OUT)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist_url(Message),
            {"action": "retry_failed", "_selected_action": [failed.pk, skipped.pk]},
            follow=True,
        )

    failed.refresh_from_db()
    skipped.refresh_from_db()
    assert failed.status == Status.SENT
    assert skipped.status == Status.SKIPPED
    texts = messages_of(response)
    assert "1 failed message queued again." in texts
    assert "1 skipped: only failed messages are retried." in texts


def test_a_template_that_does_not_compile_is_a_form_error(admin_client):
    template = MessageTemplate.objects.get(
        kind="welcome", channel="email", language="en"
    )
    page = admin_client.get(change_url(template))

    response = admin_client.post(
        change_url(template),
        form_data(
            page, body_text="Hi {% if client %}no end", subject="{{ x|nofilter }}"
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "does not compile" in errors["body_text"][0]
    assert "does not compile" in errors["subject"][0]
    template.refresh_from_db()
    assert "no end" not in template.body_text


def test_the_preview_renders_the_template_for_a_chosen_client(admin_client):
    template = MessageTemplate.objects.get(
        kind="birthday", channel="email", language="en"
    )
    client = ClientFactory(first_name="Beatriz")
    url = reverse("admin:communications_messagetemplate_preview", args=[template.pk])

    blank = admin_client.get(url)
    chosen = admin_client.get(url, {"client": client.pk})

    assert blank.status_code == chosen.status_code == 200
    assert chosen.context["preview"]["subject"] == "Happy birthday, Beatriz!"
    assert "Beatriz" in chosen.content.decode()
    assert 'sandbox=""' in chosen.content.decode()


def test_the_client_autocomplete_behind_the_preview_answers(admin_client):
    ClientFactory(first_name="Beatriz")

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "term": "Beat",
            "app_label": "communications",
            "model_name": "message",
            "field_name": "client",
        },
    )

    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]][0].startswith("Beatriz")


def test_test_send_goes_to_the_staff_members_email_through_the_outbox(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    admin_user.email = "owner@studio.test"
    admin_user.save()
    email_template = MessageTemplate.objects.get(
        kind="welcome", channel="email", language="es"
    )
    sms_template = MessageTemplate.objects.get(
        kind="birthday", channel="sms", language="en"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            changelist_url(MessageTemplate),
            {
                "action": "test_send",
                "_selected_action": [email_template.pk, sms_template.pk],
            },
            follow=True,
        )

    assert "2 test messages queued to owner@studio.test." in messages_of(response)
    assert [m.to for m in mail.outbox] == [["owner@studio.test"]] * 2
    rows = Message.objects.filter(user=admin_user)
    assert {m.status for m in rows} == {Status.SENT}
    assert {m.language for m in rows} == {"es", "en"}


def test_contact_preferences_are_edited_inline_on_the_client_page(admin_client):
    client = ClientFactory()
    page = admin_client.get(change_url(client))
    data = form_data(page)
    prefix = "contact_preferences"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-0-marketing_sms": "on",
            f"{prefix}-0-preferred_language": "es",
            f"{prefix}-0-preferred_channel": "",
            f"{prefix}-0-client": str(client.pk),
        }
    )

    response = admin_client.post(change_url(client), data)

    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["inline_admin_formsets"][-1].formset
    ]
    prefs = ContactPreferences.objects.get(client=client)
    assert prefs.marketing_sms and not prefs.marketing_email
    assert prefs.marketing_sms_at is not None
    assert Client.objects.get(pk=client.pk).pk == client.pk


def test_staff_record_an_opt_out_in_the_admin(admin_client, admin_user):
    client = ClientFactory()

    response = admin_client.post(
        reverse("admin:communications_optout_add"),
        {"client": client.pk, "kind": "reactivation", "channel": ""},
    )

    assert response.status_code == 302
    opt_out = OptOut.objects.get()
    assert (opt_out.source, opt_out.created_by) == (OptOut.Source.STAFF, admin_user)


def test_an_opt_out_for_nobody_or_twice_is_a_form_error(admin_client):
    client = ClientFactory()
    OptOutFactory(client=client, kind="reactivation", channel="")
    url = reverse("admin:communications_optout_add")

    nobody = admin_client.post(url, {"kind": "reactivation", "channel": ""})
    twice = admin_client.post(
        url, {"client": client.pk, "kind": "reactivation", "channel": ""}
    )

    assert nobody.status_code == twice.status_code == 200
    assert "Choose a client or a lead" in nobody.content.decode()
    assert "already opted out" in twice.content.decode()
    assert OptOut.objects.count() == 1
