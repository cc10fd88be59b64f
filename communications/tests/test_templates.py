import pytest
from django.core.management import call_command

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory, UserFactory
from communications.models import (
    Channel,
    Language,
    Message,
    MessageKind,
    MessageTemplate,
)
from communications.services import enqueue_message, load_message_templates
from communications.services.templates import default_templates
from leads.tests.factories import LeadFactory
from packages.tests.factories import PackagePurchaseFactory
from trials.tests.factories import TrialFactory

from .factories import ContactPreferencesFactory

pytestmark = pytest.mark.django_db

REQUIRED = [
    "appointment_reminder",
    "appointment_confirmation",
    "package_expiry",
    "birthday",
    "reactivation",
    "post_visit_survey",
    "trial_reminder",
    "follow_up_reminder",
    "welcome",
    "campaign",
]


def test_templates_ship_for_every_required_kind_in_both_languages_and_channels():
    shipped = {(t["kind"], t["channel"], t["language"]) for t in default_templates()}

    for kind in REQUIRED:
        for channel in Channel.values:
            for language in Language.values:
                assert (kind, channel, language) in shipped
    email = next(
        t
        for t in default_templates()
        if (t["kind"], t["channel"], t["language"]) == ("welcome", "email", "es")
    )
    assert email["subject"] and email["body_text"] and email["body_html"]


def recipient_and_about(kind: str):
    client = ContactPreferencesFactory(client__first_name="Ana").client
    if kind in (
        "appointment_reminder",
        "appointment_confirmation",
        "post_visit_survey",
    ):
        return {"client": client, "about": AppointmentFactory(client=client)}
    if kind == "package_expiry":
        return {"client": client, "about": PackagePurchaseFactory(client=client)}
    if kind == "trial_reminder":
        trial = TrialFactory()
        return {"lead": trial.lead, "about": trial}
    if kind == "trial_follow_up":
        trial = TrialFactory()
        return {"user": trial.salesperson, "about": trial}
    if kind in ("follow_up_reminder", "escalation"):
        return {"user": UserFactory(), "context": {"lead": LeadFactory()}}
    return {"client": client, "context": {"body": "Spring offer"}}


@pytest.mark.parametrize("language", Language.values)
@pytest.mark.parametrize("kind", MessageKind.values)
def test_every_shipped_template_renders_with_real_rows(templates, kind, language):
    for channel in Channel.values:
        args = recipient_and_about(kind)
        context = args.pop("context", None)

        message = enqueue_message(
            kind,
            channel=channel,
            context=context,
            language=language,
            period=f"{channel}:{language}",
            **args,
        )

        if message.reason == "no_address":  # staff have no phone
            continue
        assert message.status == Message.Status.QUEUED, (message.reason, message.error)
        assert message.language == language
        assert message.body_text.strip()
        assert "{{" not in message.body_text and "{%" not in message.body_text
        if channel == "email":
            assert message.subject and message.body_html


def test_loading_twice_changes_nothing_and_keeps_staff_edits(capsys):
    MessageTemplate.objects.all().delete()

    call_command("load_message_templates")
    first = capsys.readouterr().out
    edited = MessageTemplate.objects.get(kind="birthday", channel="sms", language="en")
    edited.body_text = "Our own birthday text"
    edited.save()
    call_command("load_message_templates")
    second = capsys.readouterr().out

    count = MessageTemplate.objects.count()
    assert count == len(default_templates())
    assert f"{count} created, 0 updated, 0 kept" in first
    assert f"0 created, 0 updated, {count} kept" in second
    edited.refresh_from_db()
    assert edited.body_text == "Our own birthday text"


def test_overwrite_puts_back_the_shipped_text():
    load_message_templates()
    MessageTemplate.objects.filter(
        kind="birthday", channel="sms", language="en"
    ).update(body_text="Our own birthday text")

    report = load_message_templates(overwrite=True)

    assert report.updated == ["birthday.sms.en"]
    assert (
        "Happy birthday"
        in MessageTemplate.objects.get(
            kind="birthday", channel="sms", language="en"
        ).body_text
    )


def test_html_autoescapes_and_text_does_not(db):
    MessageTemplate.objects.filter(kind="welcome", channel="email").delete()
    MessageTemplate.objects.create(
        kind="welcome",
        channel="email",
        language="en",
        subject="Hi {{ recipient_name }}",
        body_text="Hi {{ recipient_name }}",
        body_html="<p>Hi {{ recipient_name }}</p>",
    )
    client = ClientFactory(first_name="O'Brien <b>")

    message = enqueue_message("welcome", channel="email", client=client)

    assert message.subject == "Hi O'Brien <b>"
    assert message.body_text == "Hi O'Brien <b>"
    assert message.body_html == "<p>Hi O&#x27;Brien &lt;b&gt;</p>"


def test_templates_cannot_reach_files_or_call_methods_that_change_data(db):
    MessageTemplate.objects.filter(kind="welcome", channel="sms").delete()
    MessageTemplate.objects.create(
        kind="welcome",
        channel="sms",
        language="en",
        body_text="{{ client.delete }}{{ client.first_name }}",
    )
    client = ClientFactory(first_name="Ana")

    message = enqueue_message("welcome", channel="sms", client=client)

    assert message.body_text == "Ana"
    assert type(client).objects.filter(pk=client.pk).exists()
