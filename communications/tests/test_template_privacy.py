"""Message templates never reach medical or private client data: saving a template
that names it is refused, and a template stored before that check renders it as
empty, while everything templates use today still renders."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client as Browser
from django.urls import reverse

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import (
    ClientFactory,
    ClientNoteFactory,
    TagFactory,
    UserFactory,
)
from communications import privacy, rendering
from communications.jobs import run_job
from communications.models import JobRun, Message, MessageKind, MessageTemplate
from communications.services import enqueue_message, load_message_templates
from crm_project.setup import ensure_roles
from crm_project.tests.admin_testing import add_url, change_url, form_data
from services.tests.factories import ContraindicationFactory, ServiceFactory

from .factories import ContactPreferencesFactory

pytestmark = pytest.mark.django_db

SECRETS = [
    "HEART-MURMUR",
    "PEANUTS",
    "PACEMAKER",
    "MUM-CARMEN",
    "+34600999888",
    "NOTE-PRIVATE",
    "NOTE-PUBLIC",
    "OVERRIDE-ASTHMA",
    "REFERRAL-LATEX",
]

# Every way a template could have reached the data, as stored before the check.
LEAKY = (
    "A{{ client.medical_history }}|{{ client.allergies }}"
    "|{% for c in client.conditions.all %}{{ c }}{% endfor %}"
    "|{{ client.conditions.all }}|{{ client.conditions.count }}"
    "|{{ appointment.client.medical_history }}|{{ about.client.allergies }}"
    "|{{ client.emergency_contact_name }} {{ client.emergency_contact_phone }}"
    "|{% for n in client.client_notes.all %}{{ n.body }}{% endfor %}"
    "|{{ client.client_notes.all }}"
    "|{{ appointment.override_reason }}{{ appointment.contraindication_override }}"
    "|{% with c=client %}{{ c.allergies }}{% endwith %}"
    "|{{ appointment.service.contraindications.all.0.clients.all.0.allergies }}"
    "|{{ appointment.service.contraindications.all.0.clients.all }}"
    "|{% for c in appointment.service.contraindications.all.0.clients.all %}"
    "WHO-HAS-IT:{{ c.first_name }}{% endfor %}"
    "|{{ client.referrals.all.values }}|{{ client.referrals.all.values_list }}"
    "|{{ client.referrals.all.0.allergies }}"
    "|{% regroup client.referrals.all by allergies as g %}"
    "{% for x in g %}{{ x.grouper }}{% endfor %}"
    "|{{ client.referrals.all|dictsort:'allergies'|first }}Z"
)


@pytest.fixture
def patient():
    """A client with every kind of private data, and an appointment overridden for
    a contraindication of its service."""
    condition = ContraindicationFactory(name="PACEMAKER")
    client = ClientFactory(
        first_name="Ana",
        medical_history="HEART-MURMUR",
        allergies="PEANUTS",
        emergency_contact_name="MUM-CARMEN",
        emergency_contact_phone="+34600999888",
    )
    ContactPreferencesFactory(client=client)
    client.conditions.add(condition)
    client.tags.add(TagFactory(name="vip"), TagFactory(name="early-bird"))
    ClientNoteFactory(client=client, body="NOTE-PRIVATE", private=True)
    ClientNoteFactory(client=client, body="NOTE-PUBLIC", private=False)
    ClientFactory(first_name="Bea", referred_by=client, allergies="REFERRAL-LATEX")
    service = ServiceFactory(name="Cryo session")
    service.contraindications.add(condition)
    appointment = AppointmentFactory(
        client=client,
        service=service,
        contraindication_override=True,
        override_reason="OVERRIDE-ASTHMA",
    )
    return client, appointment


def stored(kind: str, channel: str, **parts) -> MessageTemplate:
    """A template saved before the check existed (no clean(), as old rows were)."""
    MessageTemplate.objects.filter(kind=kind, channel=channel, language="en").delete()
    return MessageTemplate.objects.create(
        kind=kind, channel=channel, language="en", **parts
    )


def assert_no_secrets(text: str) -> None:
    assert not [secret for secret in SECRETS if secret in text], text
    # Who has a condition is medical data too, whatever the way to it.
    assert "WHO-HAS-IT" not in text, text


# --- saving ------------------------------------------------------------------------


def test_adding_a_template_that_uses_medical_data_is_a_form_error_naming_it(
    admin_client,
):
    page = admin_client.get(add_url(MessageTemplate))

    response = admin_client.post(
        add_url(MessageTemplate),
        form_data(
            page,
            kind="campaign",
            name="Spring",
            channel="email",
            language="en",
            subject="Hi {{ recipient_name }}",
            body_text="Hi {{ client.first_name }}, {{ client.allergies }}",
            body_html="",
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "client.allergies" in errors["body_text"][0]
    assert "not available to message templates" in errors["body_text"][0]
    assert "subject" not in errors
    assert not MessageTemplate.objects.filter(name="Spring").exists()


def test_changing_a_template_to_reach_medical_data_through_relations_is_refused(
    admin_client,
):
    template = MessageTemplate.objects.get(
        kind="appointment_reminder", channel="email", language="en"
    )
    before = template.body_text
    page = admin_client.get(change_url(template))

    response = admin_client.post(
        change_url(template),
        form_data(
            page,
            subject="{{ appointment.client.medical_history|default:'' }}",
            body_text=(
                "{% for c in client.conditions.all %}{{ c }}{% endfor %}"
                "{{ client.emergency_contact_phone }}"
                "{% for n in client.client_notes.all %}{{ n }}{% endfor %}"
            ),
            body_html="<p>{{ appointment.override_reason }}</p>",
        ),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "appointment.client.medical_history" in errors["subject"][0]
    for lookup in (
        "client.conditions.all",
        "client.emergency_contact_phone",
        "client.client_notes.all",
    ):
        assert lookup in errors["body_text"][0]
    assert "appointment.override_reason" in errors["body_html"][0]
    template.refresh_from_db()
    assert template.body_text == before


def test_a_marketer_gets_the_same_error(patient):
    ensure_roles()
    marketer = UserFactory(is_superuser=False, is_staff=True)
    marketer.groups.add(Group.objects.get(name="marketer"))
    browser = Browser()
    browser.force_login(marketer)
    template = MessageTemplate.objects.get(
        kind="birthday", channel="sms", language="en"
    )
    page = browser.get(change_url(template))

    response = browser.post(
        change_url(template),
        form_data(page, body_text="{% with c=client %}{{ c.allergies }}{% endwith %}"),
    )

    assert page.status_code == response.status_code == 200
    assert "c.allergies" in response.context["adminform"].form.errors["body_text"][0]


def test_words_outside_tags_are_allowed(admin_client):
    template = MessageTemplate.objects.get(
        kind="post_visit_survey", channel="email", language="en"
    )
    page = admin_client.get(change_url(template))
    text = (
        "Tell us about any allergies, conditions or medical history before your "
        "next visit. {{ survey_url }}"
    )

    response = admin_client.post(change_url(template), form_data(page, body_text=text))

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.body_text == text


def test_the_lookups_are_found_inside_tags_only():
    source = (
        "Any allergies? {{ client.first_name }} {# client.allergies #}"
        "{% if client.allergies %}{% endif %}{{ x|dictsort:'client.medical_history' }}"
        "{% if body == 'Tell us about allergies' %}{% endif %}"
        "{{ lead.conditions|default:client.emergency_contact_name }}"
    )

    assert privacy.private_lookups(source) == [
        "client.allergies",
        "client.medical_history",
        "lead.conditions",
        "client.emergency_contact_name",
    ]


def test_model_validation_refuses_private_data_and_compile_errors_together():
    template = MessageTemplate(
        kind="welcome",
        channel="email",
        subject="{% if client %}{{ client.allergies }}",
        body_text="{{ client.medical_history }}",
    )

    with pytest.raises(ValidationError) as caught:
        template.full_clean(validate_constraints=False)

    errors = caught.value.message_dict
    assert "does not compile" in errors["subject"][0]
    assert "client.allergies" in errors["subject"][1]
    assert "client.medical_history" in errors["body_text"][0]


def test_loading_a_shipped_file_that_uses_medical_data_fails_and_writes_nothing(
    tmp_path,
):
    MessageTemplate.objects.all().delete()
    folder = tmp_path / "birthday"
    folder.mkdir()
    (folder / "sms.en.txt").write_text("Happy birthday {{ recipient_name }}!")
    (folder / "email.en.subject").write_text("Happy birthday")
    (folder / "email.en.txt").write_text("{{ client.conditions.all|join:', ' }}")

    with pytest.raises(ValidationError) as caught:
        load_message_templates(folder=tmp_path)

    [message] = caught.value.messages
    assert message.startswith("birthday.email.en (body_text): ")
    assert "client.conditions.all" in message
    assert not MessageTemplate.objects.exists()


# --- rendering ---------------------------------------------------------------------


def test_a_stored_template_renders_no_medical_or_private_data(patient):
    client, appointment = patient
    stored(
        "appointment_reminder",
        "email",
        subject="{{ client.allergies }}Hi {{ recipient_name }}",
        body_text=LEAKY,
        body_html=f"<p>{LEAKY}</p>",
    )

    message = enqueue_message(
        "appointment_reminder", channel="email", client=client, about=appointment
    )

    assert message.status == Message.Status.QUEUED, message.error
    assert message.subject == "Hi Ana"
    assert message.body_text.startswith("A") and message.body_text.endswith("Z")
    assert_no_secrets(message.body_text)
    assert_no_secrets(message.body_html)


def test_ordinary_variables_still_render_beside_the_guard(patient):
    client, appointment = patient
    appointment.start_at = dt.datetime(2030, 3, 4, 9, 30, tzinfo=dt.UTC)
    appointment.end_at = appointment.start_at + dt.timedelta(hours=1)
    appointment.save()
    stored(
        "appointment_confirmation",
        "sms",
        body_text=(
            "{{ recipient_name }} {{ client }} {{ client.first_name }}"
            " | {{ appointment.service }} {{ appointment.service.name|upper }}"
            " {{ appointment.start_at|date:'Y-m-d' }}"
            " {{ appointment.get_status_display }}"
            " | {% for t in client.tags.all %}{{ t.name }};{% endfor %}"
            " {{ client.tags.count }} {{ client.referrals.all.0.first_name }}"
            " | {% if appointment.client == client %}same{% endif %}"
            " {{ appointment.service.contraindications.all.0 }}"
            " | {{ business.name }} {{ client.delete }}{{ client.first_name|length }}"
        ),
    )
    settings_name = settings.CRM_BUSINESS_NAME

    message = enqueue_message(
        "appointment_confirmation", channel="sms", client=client, about=appointment
    )

    assert message.body_text == (
        f"Ana {client.full_name} Ana | Cryo session CRYO SESSION 2030-03-04 "
        f"Scheduled | early-bird;vip; 2 Bea | same PACEMAKER | {settings_name} 3"
    )
    assert type(client).objects.filter(pk=client.pk).exists()


def test_the_admin_preview_of_a_stored_template_shows_no_medical_data(patient):
    client, appointment = patient
    template = stored(
        "birthday",
        "email",
        subject="Happy birthday, {{ recipient_name }}!",
        body_text=LEAKY,
        body_html=f"<p>{LEAKY}</p>",
    )
    ensure_roles()
    marketer = UserFactory(is_superuser=False, is_staff=True)
    marketer.groups.add(Group.objects.get(name="marketer"))
    browser = Browser()
    browser.force_login(marketer)
    url = reverse("admin:communications_messagetemplate_preview", args=[template.pk])

    response = browser.get(url, {"client": client.pk})

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview["subject"] == "Happy birthday, Ana!"
    assert_no_secrets(response.content.decode())


def test_the_post_visit_survey_renders_its_link_but_not_medical_data(patient):
    client, _ = patient
    zone = ZoneInfo(settings.TIME_ZONE)
    visit = AppointmentFactory(
        client=client,
        start_at=dt.datetime(2026, 11, 22, 18, tzinfo=zone),
        status="completed",
        contraindication_override=True,
        override_reason="OVERRIDE-ASTHMA",
    )
    stored(
        "post_visit_survey",
        "email",
        subject="How was it, {{ recipient_name }}?",
        body_text=(
            "Rate {{ appointment.service }}: {{ survey_url }} "
            "({{ client.allergies }}{{ appointment.override_reason }})"
        ),
    )

    with time_machine.travel(dt.datetime(2026, 11, 23, 10, 30, tzinfo=zone)):
        run_job(JobRun.Job.POST_VISIT_SURVEYS)

    message = Message.objects.get(
        kind=MessageKind.POST_VISIT_SURVEY, object_id=visit.pk, channel="email"
    )
    assert message.subject == "How was it, Ana?"
    assert f"Rate {visit.service}: https://studio.test/c/s/" in message.body_text
    assert message.body_text.endswith("()")
    assert_no_secrets(message.body_text)


def test_guarded_values_compare_and_iterate_like_the_objects(patient):
    client, appointment = patient

    guarded = privacy.guard({"client": client, "rows": [appointment], "n": 3})

    assert guarded["client"] == client and str(guarded["client"]) == str(client)
    assert guarded["rows"][0].client == guarded["client"]
    assert guarded["n"] == 3
    assert guarded["client"].allergies == ""
    assert guarded["client"].first_name == "Ana"
    assert [str(t) for t in guarded["client"].tags.all()] == ["early-bird", "vip"]
    assert privacy.guard(client.client_notes.all()) == ""


def test_the_command_reports_a_shipped_file_that_uses_medical_data(tmp_path):
    MessageTemplate.objects.all().delete()
    folder = tmp_path / "birthday"
    folder.mkdir()
    (folder / "sms.en.txt").write_text("Hi {{ client.allergies }}")

    with pytest.raises(CommandError, match=r"birthday\.sms\.en \(body_text\): "):
        call_command("load_message_templates", folder=tmp_path)
    with pytest.raises(CommandError, match="No such folder"):
        call_command("load_message_templates", folder=tmp_path / "missing")

    assert not MessageTemplate.objects.exists()


def test_a_staff_message_cannot_show_the_password_hash():
    staff = UserFactory(first_name="Sam", email="sam@studio.test")
    with pytest.raises(ValidationError, match="user.password"):
        rendering.check_parts(
            subject="x", body_text="{{ user.password }}", body_html=""
        )
    stored(
        "follow_up_reminder",
        "email",
        subject="Hi {{ recipient_name }}",
        body_text="[{{ user.password }}]",
    )

    message = enqueue_message("follow_up_reminder", channel="email", user=staff)

    assert message.status == Message.Status.QUEUED, message.error
    assert message.body_text == "[]"
