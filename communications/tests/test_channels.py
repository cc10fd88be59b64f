"""The channels against real servers: SMTP (aiosmtpd) and a local Twilio API."""

from decimal import Decimal

import pytest

from clients.tests.factories import ClientFactory
from communications.models import Message, Reason
from communications.services import (
    enqueue_message,
    retry_failed_messages,
    send_due_messages,
)

from .factories import ContactPreferencesFactory
from .servers import FakeTwilio, SmtpServer, free_port

pytestmark = pytest.mark.django_db

Status = Message.Status


@pytest.fixture
def smtp_port(settings):
    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "studio@studio.test"
    settings.COMMUNICATIONS_UNSUBSCRIBE_EMAIL = "unsubscribe@studio.test"
    return port


def test_an_email_goes_through_a_real_smtp_server_with_both_parts_and_headers(
    templates, smtp_port
):
    client = ContactPreferencesFactory(client__first_name="Ana").client
    message = enqueue_message("birthday", channel="email", client=client, period="y")

    with SmtpServer(smtp_port) as server:
        counts = send_due_messages()

    assert counts == {"sent": 1}
    [arrived] = server.messages
    email = arrived["email"]
    assert arrived["to"] == [client.email]
    assert email["Subject"] == "Happy birthday, Ana!"
    unsubscribe = str(email["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<https://studio.test/c/u/")
    assert "<mailto:unsubscribe@studio.test?subject=unsubscribe%20" in unsubscribe
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "Happy birthday, Ana!" in text
    assert "https://studio.test/c/o/" in html  # the open pixel
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.provider_id and message.provider_id in email["Message-ID"]


def test_with_the_smtp_server_down_messages_retry_fail_and_go_out_when_it_is_back(
    templates, smtp_port, settings
):
    settings.COMMUNICATIONS_RETRY_BASE_SECONDS = 0  # every retry due at once
    settings.COMMUNICATIONS_MAX_ATTEMPTS = 3
    clients = [ClientFactory() for _ in range(3)]
    first, second = (
        enqueue_message("welcome", channel="email", client=c) for c in clients[:2]
    )

    # Down: nothing listens on the port. The first message is tried and retried;
    # the rest of each batch waits without spending attempts on a dead server.
    assert send_due_messages() == {"retry": 1, "postponed": 1}
    assert send_due_messages() == {"retry": 1, "postponed": 1}
    assert send_due_messages() == {"failed": 1, "postponed": 1}
    third = enqueue_message("welcome", channel="email", client=clients[2])
    assert send_due_messages() == {"retry": 1, "postponed": 1}

    first.refresh_from_db()
    assert (first.status, first.reason) == (Status.FAILED, Reason.ERROR)
    assert first.attempts == 3
    assert "Connection refused" in first.error or "111" in first.error
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.status == third.status == Status.QUEUED
    assert second.attempts + third.attempts == 1
    assert second.error and third.error  # the log says why they wait

    # Back up: the queued ones go out, and the failed one when staff retry it.
    with SmtpServer(smtp_port) as server:
        assert send_due_messages() == {"sent": 2}
        assert retry_failed_messages([first.pk]) == 1
        assert send_due_messages() == {"sent": 1}

    assert sorted(m["to"][0] for m in server.messages) == sorted(
        c.email for c in clients
    )
    assert Message.objects.filter(status=Status.SENT).count() == 3


@pytest.fixture
def twilio(settings):
    with FakeTwilio() as server:
        settings.TWILIO_API_BASE_URL = server.url
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_AUTH_TOKEN = "token"  # noqa: S105 - a test credential
        settings.TWILIO_FROM_NUMBER = "+14155550000"
        settings.TWILIO_WHATSAPP_FROM = "+14155550001"
        settings.COMMUNICATIONS_SMS_BACKEND = (
            "communications.channels.twilio.TwilioBackend"
        )
        settings.COMMUNICATIONS_WHATSAPP_BACKEND = (
            "communications.channels.twilio.TwilioBackend"
        )
        yield server


def test_sms_and_whatsapp_go_through_the_twilio_sdk_to_its_api(templates, twilio):
    client = ClientFactory(first_name="Ana")
    sms = enqueue_message("welcome", channel="sms", client=client)
    whatsapp = enqueue_message("trial_reminder", channel="whatsapp", client=client)

    assert send_due_messages() == {"sent": 2}

    by_to = {r["form"]["To"]: r for r in twilio.requests}
    assert set(by_to) == {client.phone, f"whatsapp:{client.phone}"}
    sms_request = by_to[client.phone]
    assert sms_request["path"] == f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    assert sms_request["form"]["From"] == "+14155550000"
    assert "Ana" in sms_request["form"]["Body"]
    assert by_to[f"whatsapp:{client.phone}"]["form"]["From"] == "whatsapp:+14155550001"
    assert sms_request["auth"].startswith("Basic ")
    sms.refresh_from_db()
    whatsapp.refresh_from_db()
    assert sms.status == whatsapp.status == Status.SENT
    assert sms.provider_id.startswith("SM")
    assert sms.cost == Decimal("0.0079")


def test_a_twilio_5xx_or_429_is_retried_and_a_4xx_fails_at_once(templates, twilio):
    first = enqueue_message("welcome", channel="sms", client=ClientFactory())
    twilio.status = 503
    assert send_due_messages() == {"retry": 1}
    first.refresh_from_db()
    assert first.status == Status.QUEUED
    assert "503" in first.error

    twilio.status, twilio.code = 400, 21211
    second = enqueue_message("welcome", channel="sms", client=ClientFactory())
    assert send_due_messages() == {"failed": 1}
    second.refresh_from_db()
    assert (second.status, second.reason) == (Status.FAILED, Reason.INVALID_ADDRESS)
    assert "21211" in second.error
