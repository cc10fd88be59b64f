import datetime as dt

import pytest
from django.utils import timezone

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory, UserFactory
from communications.models import Message, MessageKind, MessageTemplate, Reason
from communications.services import (
    MessageSpec,
    enqueue_message,
    enqueue_messages,
    idempotency_key,
    record_opt_out,
)
from leads.tests.factories import LeadFactory

from .factories import ContactPreferencesFactory, MessageFactory

pytestmark = pytest.mark.django_db

Status = Message.Status


def test_the_idempotency_key_names_kind_recipient_object_and_period():
    client = ClientFactory()
    appointment = AppointmentFactory(client=client)

    key = idempotency_key(
        "appointment_reminder", client=client, about=appointment, period="2026-11-23"
    )

    assert key == (
        f"appointment_reminder:client:{client.pk}:appointments.appointment:"
        f"{appointment.pk}:2026-11-23"
    )


def test_enqueueing_twice_writes_one_message_and_returns_it(
    templates, django_capture_on_commit_callbacks
):
    client = ClientFactory(first_name="Ana")
    appointment = AppointmentFactory(client=client)

    with django_capture_on_commit_callbacks() as callbacks:
        first = enqueue_message(
            MessageKind.APPOINTMENT_REMINDER,
            channel="email",
            client=client,
            about=appointment,
            period="d-1",
        )
    second = enqueue_message(
        MessageKind.APPOINTMENT_REMINDER,
        channel="sms",
        client=client,
        about=appointment,
        period="d-1",
    )

    assert second.pk == first.pk
    assert Message.objects.count() == 1
    assert first.status == Status.QUEUED
    assert first.to_address == client.email
    assert "Ana" in first.body_text and "Ana" in first.body_html
    assert first.about == appointment
    assert len(callbacks) == 1  # the send task, once


def test_a_message_is_rendered_in_the_clients_language_or_else_english(templates):
    spanish = ClientFactory(preferred_language="es", first_name="Lucía")
    ContactPreferencesFactory(client=spanish)
    MessageTemplate.objects.filter(kind=MessageKind.WELCOME, language="es").delete()

    birthday = enqueue_message("birthday", channel="email", client=spanish, period="y")
    welcome = enqueue_message("welcome", channel="email", client=spanish)

    assert birthday.language == "es"
    assert birthday.subject == "¡Feliz cumpleaños, Lucía!"
    assert welcome.language == "en"
    assert welcome.subject.startswith("Welcome to")


def test_marketing_without_consent_is_logged_as_skipped(templates):
    client = ClientFactory()

    message = enqueue_message("birthday", channel="sms", client=client, period="2026")

    assert message.status == Status.SKIPPED
    assert message.reason == Reason.NO_CONSENT
    assert message.next_attempt_at is None


def test_consent_covers_only_its_channel(templates):
    client = ClientFactory()
    ContactPreferencesFactory(client=client, marketing_sms=False)

    by_email = enqueue_message("campaign", channel="email", client=client, period="a")
    by_sms = enqueue_message("campaign", channel="sms", client=client, period="b")

    assert by_email.status == Status.QUEUED
    assert (by_sms.status, by_sms.reason) == (Status.SKIPPED, Reason.NO_CONSENT)


def test_transactional_messages_need_no_marketing_consent(templates):
    client = ClientFactory()

    message = enqueue_message("welcome", channel="sms", client=client)

    assert message.status == Status.QUEUED
    assert message.to_address == client.phone


def test_an_opted_out_client_is_skipped_on_that_channel_or_all(templates):
    client = ClientFactory()
    ContactPreferencesFactory(client=client)
    record_opt_out("reactivation", client=client, channel="sms")
    record_opt_out("birthday", client=client)  # every channel

    sms = enqueue_message("reactivation", channel="sms", client=client, period="q1")
    email = enqueue_message("reactivation", channel="email", client=client, period="q2")
    birthday = enqueue_message("birthday", channel="email", client=client, period="y")

    assert (sms.status, sms.reason) == (Status.SKIPPED, Reason.OPTED_OUT)
    assert email.status == Status.QUEUED
    assert (birthday.status, birthday.reason) == (Status.SKIPPED, Reason.OPTED_OUT)


def test_an_opt_out_stops_transactional_kinds_too(templates):
    client = ClientFactory()
    record_opt_out("appointment_reminder", client=client)

    message = enqueue_message(
        "appointment_reminder",
        channel="email",
        client=client,
        about=AppointmentFactory(),
    )

    assert message.reason == Reason.OPTED_OUT


def test_a_client_over_the_cap_is_skipped_as_capped(templates, settings):
    settings.COMMUNICATIONS_CAPS = {"sms": "day=2,month=8"}
    client = ClientFactory()
    ContactPreferencesFactory(client=client)
    now = timezone.now()
    for i in range(2):
        MessageFactory(
            client=client,
            kind="campaign",
            channel="sms",
            status=Status.SENT,
            sent_at=now - dt.timedelta(hours=3 + i),
        )

    capped = enqueue_message("campaign", channel="sms", client=client, period="c3")
    by_email = enqueue_message("campaign", channel="email", client=client, period="c4")
    reminder = enqueue_message("welcome", channel="sms", client=client)

    assert (capped.status, capped.reason) == (Status.SKIPPED, Reason.CAPPED)
    assert by_email.status == Status.QUEUED  # caps are per channel
    assert reminder.status == Status.QUEUED  # transactional: never capped


def test_messages_sent_outside_the_window_do_not_count_against_the_cap(
    templates, settings
):
    settings.COMMUNICATIONS_CAPS = {"sms": "day=1"}
    client = ClientFactory()
    ContactPreferencesFactory(client=client)
    MessageFactory(
        client=client,
        kind="campaign",
        channel="sms",
        status=Status.SENT,
        sent_at=timezone.now() - dt.timedelta(hours=25),
    )

    message = enqueue_message("campaign", channel="sms", client=client, period="x")

    assert message.status == Status.QUEUED


def test_a_recipient_without_an_address_for_the_channel_is_skipped(templates):
    client = ClientFactory(phone="")
    staff = UserFactory()

    sms = enqueue_message("welcome", channel="sms", client=client)
    staff_sms = enqueue_message("escalation", channel="sms", user=staff)

    assert (sms.status, sms.reason) == (Status.SKIPPED, Reason.NO_ADDRESS)
    assert (staff_sms.status, staff_sms.reason) == (Status.SKIPPED, Reason.NO_ADDRESS)


def test_a_kind_without_a_template_is_skipped_as_template_missing(db):
    MessageTemplate.objects.filter(kind="welcome").delete()

    message = enqueue_message("welcome", channel="email", client=ClientFactory())

    assert (message.status, message.reason) == (
        Status.SKIPPED,
        Reason.TEMPLATE_MISSING,
    )


def test_a_template_failing_at_render_is_skipped_with_the_error(db):
    MessageTemplate.objects.filter(kind="welcome").delete()
    MessageTemplate.objects.create(
        kind="welcome",
        channel="email",
        language="en",
        subject="Hi",
        body_text="Hi {% include 'some/file.html' %}",
    )

    message = enqueue_message("welcome", channel="email", client=ClientFactory())

    assert (message.status, message.reason) == (Status.SKIPPED, Reason.TEMPLATE_ERROR)
    assert "TemplateDoesNotExist" in message.error


def test_marketing_to_a_lead_needs_consent_the_lead_cannot_have(templates):
    lead = LeadFactory()

    campaign = enqueue_message("campaign", channel="email", lead=lead, period="1")
    reminder = enqueue_message("trial_reminder", channel="sms", lead=lead)

    assert campaign.reason == Reason.NO_CONSENT
    assert reminder.status == Status.QUEUED
    assert reminder.to_address == lead.phone


def test_staff_messages_ignore_consent_and_opt_outs(templates):
    staff = UserFactory(first_name="Marta")

    message = enqueue_message("follow_up_reminder", channel="email", user=staff)

    assert message.status == Status.QUEUED
    assert message.body_text.startswith("A lead is waiting for you")
    assert "Marta" in message.body_text
    assert "Unsubscribe" not in message.body_text


def test_a_later_send_after_is_queued_for_then(
    templates, django_capture_on_commit_callbacks
):
    later = timezone.now() + dt.timedelta(days=1)

    with django_capture_on_commit_callbacks() as callbacks:
        message = enqueue_message(
            "welcome", channel="email", client=ClientFactory(), send_after=later
        )

    assert message.next_attempt_at == later
    assert callbacks == []  # the every-minute sender will pick it up


def test_bulk_enqueue_counts_outcomes_and_writes_nothing_twice(templates):
    consenting = [ContactPreferencesFactory().client for _ in range(3)]
    refusing = ClientFactory()
    record_opt_out("campaign", client=consenting[2])
    specs = [
        MessageSpec(
            "campaign", "email", client=c, period="spring", context={"body": "Hi"}
        )
        for c in [*consenting, refusing]
    ]

    first = enqueue_messages(specs)
    again = enqueue_messages(specs + specs[:1])

    assert first == {"queued": 2, "skipped:opted_out": 1, "skipped:no_consent": 1}
    assert again == {"duplicate": 5}
    assert Message.objects.count() == 4


def test_bulk_enqueue_runs_a_constant_number_of_queries(
    templates, django_assert_max_num_queries, settings
):
    settings.COMMUNICATIONS_CAPS = {"sms": "day=2,month=8", "email": "week=1"}

    def specs(n, period):
        clients = [ContactPreferencesFactory().client for _ in range(n)]
        return [
            MessageSpec(
                "campaign", "sms", client=c, period=period, context={"body": "x"}
            )
            for c in clients
        ]

    few, many = specs(5, "few"), specs(60, "many")
    with django_assert_max_num_queries(10) as few_queries:
        enqueue_messages(few)
    with django_assert_max_num_queries(10) as many_queries:
        enqueue_messages(many)

    # The same reads however many messages; the inserts go in chunks (SQLite's
    # variable limit makes them smaller there).
    def reads(queries):
        return [q for q in queries.captured_queries if "INSERT" not in q["sql"]]

    assert len(reads(many_queries)) == len(reads(few_queries))
    assert Message.objects.filter(status=Status.QUEUED).count() == 65


def test_bulk_enqueue_counts_its_own_messages_against_the_caps(templates, settings):
    settings.COMMUNICATIONS_CAPS = {"sms": "day=2"}
    client = ContactPreferencesFactory().client
    specs = [
        MessageSpec(
            "campaign", "sms", client=client, period=str(i), context={"body": "x"}
        )
        for i in range(3)
    ]

    counts = enqueue_messages(specs)

    assert counts == {"queued": 2, "skipped:capped": 1}


def test_text_with_tabs_backslashes_and_line_breaks_is_stored_as_rendered(db):
    # PostgreSQL loads the rows through COPY, whose text format gives backslashes,
    # tabs and line breaks a meaning, and reads \\N as NULL.
    MessageTemplate.objects.filter(kind="welcome").delete()
    MessageTemplate.objects.create(
        kind="welcome",
        channel="email",
        language="en",
        subject="Hi\t{{ recipient_name }}",
        body_text="Path C:\\new\\table \\N\n\tindented\r\nby {{ recipient_name }}",
        body_html="<pre>a\tb\\c</pre>{{ recipient_name }}",
    )
    client = ClientFactory(first_name="Zoë\\N")

    enqueue_messages([MessageSpec("welcome", "email", client=client)])

    message = Message.objects.get()
    assert message.subject == "Hi Zoë\\N"
    assert message.body_text == ("Path C:\\new\\table \\N\n\tindented\r\nby Zoë\\N")
    assert message.body_html == "<pre>a\tb\\c</pre>Zoë\\N"
    assert message.error == "" and message.provider_id == ""  # empty, not NULL
    assert message.sent_at is None and message.cost is None


def test_rows_already_in_the_outbox_are_left_alone_and_not_reported_written(
    templates,
):
    from communications.services import rows

    client = ClientFactory()
    first = enqueue_message("welcome", channel="email", client=client)
    now = timezone.now()

    def row(key, subject):
        return rows.new_row(
            kind="welcome",
            channel="email",
            client_id=client.pk,
            to_address=client.email,
            subject=subject,
            send_after=now,
            next_attempt_at=now,
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )

    written = rows.insert_rows(
        [row(first.idempotency_key, "second copy"), row("welcome:new", "new")]
    )

    assert written == {"welcome:new"}
    first.refresh_from_db()
    assert first.subject != "second copy"
    assert Message.objects.get(idempotency_key="welcome:new").subject == "new"
    assert rows.existing_keys([first.idempotency_key, "welcome:new", "other"]) == {
        first.idempotency_key,
        "welcome:new",
    }


def test_the_preferred_channel_comes_from_preferences_then_the_client_record():
    from communications.models import ContactPreferences
    from communications.services import preferred_channels

    by_preferences = ClientFactory(preferred_channel="email")
    ContactPreferences.objects.create(client=by_preferences, preferred_channel="sms")
    by_record = ClientFactory(preferred_channel="whatsapp")
    by_phone = ClientFactory(preferred_channel="phone")

    channels = preferred_channels([by_preferences, by_record, by_phone])

    assert channels == {
        by_preferences.pk: "sms",
        by_record.pk: "whatsapp",
        by_phone.pk: "email",
    }
