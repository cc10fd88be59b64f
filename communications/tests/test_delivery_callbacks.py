"""Twilio's delivery reports: the status callback view, the service behind it, and
the Twilio backend asking for them. Signatures are made with the official SDK's
RequestValidator, as Twilio makes them."""

import datetime as dt

import pytest
from django.test import Client as Browser
from django.utils import timezone
from twilio.request_validator import RequestValidator

from clients.tests.factories import ClientFactory
from communications.models import Message, Reason
from communications.services import (
    enqueue_message,
    record_twilio_status,
    send_due_messages,
)
from crm_project.tests.concurrency import race

from .factories import MessageFactory
from .servers import FakeTwilio

pytestmark = pytest.mark.django_db

Status = Message.Status
TOKEN = "twilio-auth-token"  # noqa: S105 - a test credential
PATH = "/c/twilio/status/"
# What the test client's requests look like to the view (build_absolute_uri()).
URL = f"http://testserver{PATH}"
# The callback URL the backend gives Twilio (COMMUNICATIONS_PUBLIC_URL + PATH).
PUBLIC_URL = f"https://studio.test{PATH}"
SID = "SM" + "a" * 32


@pytest.fixture(autouse=True)
def _twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN


@pytest.fixture
def browser():
    # CSRF checks on, as for a real caller.
    return Browser(enforce_csrf_checks=True)


def signature(params: dict, *, url: str = URL, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def report(browser, params: dict, *, sign: dict | None = None, **kwargs):
    """POST ``params`` as Twilio would, signed over ``sign`` (default: the same
    params) for ``url``/``token`` unless a signature header is given."""
    url = kwargs.pop("url", URL)
    token = kwargs.pop("token", TOKEN)
    kwargs.setdefault(
        "HTTP_X_TWILIO_SIGNATURE",
        signature(params if sign is None else sign, url=url, token=token),
    )
    return browser.post(kwargs.pop("path", PATH), params, **kwargs)


def twilio_params(status: str, *, sid: str = SID, **extra) -> dict:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "1" * 32,
        "From": "+14155550000",
        "To": "+14155551234",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def sent_message(channel="sms", sid=SID, status=Status.SENT, **fields) -> Message:
    return MessageFactory(
        channel=channel,
        to_address="+14155551234",
        status=status,
        provider_id=sid,
        sent_at=timezone.now() - dt.timedelta(seconds=5),
        attempts=1,
        **fields,
    )


# --- signatures ----------------------------------------------------------------------


def test_a_report_signed_with_the_auth_token_is_accepted(browser):
    message = sent_message()

    answer = report(browser, twilio_params("delivered"))

    assert answer.status_code == 200
    assert answer.json() == {"outcome": "delivered"}
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.delivered_at is not None


@pytest.mark.parametrize(
    "how",
    [
        {"sign": twilio_params("undelivered")},  # a tampered parameter
        {"sign": twilio_params("delivered", ErrorCode="30003")},  # one added
        {"token": "another-token"},  # not our account's token
        {"url": "https://elsewhere.test/c/twilio/status/"},  # signed for another URL
        {"HTTP_X_TWILIO_SIGNATURE": ""},
        {"HTTP_X_TWILIO_SIGNATURE": "bm90IGEgc2lnbmF0dXJl"},
    ],
    ids=["tampered", "param-added", "wrong-token", "wrong-url", "empty", "garbage"],
)
def test_a_wrong_or_missing_signature_is_refused_and_changes_nothing(browser, how):
    message = sent_message()

    answer = report(browser, twilio_params("delivered"), **how)

    assert answer.status_code == 403
    assert answer.json() == {"error": "invalid or missing X-Twilio-Signature"}
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Status.SENT, None)


def test_a_report_without_a_signature_header_is_refused(browser):
    message = sent_message()

    answer = browser.post(PATH, twilio_params("delivered"))

    assert answer.status_code == 403
    assert "error" in answer.json()
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_without_an_auth_token_nothing_is_accepted(browser, settings):
    # An empty HMAC key would let anyone compute a valid signature.
    settings.TWILIO_AUTH_TOKEN = ""
    message = sent_message()

    answer = report(browser, twilio_params("delivered"), token="")

    assert answer.status_code == 503
    assert answer.json() == {"error": "Twilio is not configured"}
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_report_signed_for_the_public_callback_url_is_accepted(browser):
    # Behind a proxy that does not tell Django the original scheme and host, the
    # request looks like http://testserver/...; Twilio signed the URL it was given.
    message = sent_message()

    answer = report(browser, twilio_params("delivered"), url=PUBLIC_URL)

    assert answer.status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_behind_a_tls_proxy_the_forwarded_scheme_and_host_are_what_is_checked(
    browser, settings
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    settings.COMMUNICATIONS_PUBLIC_URL = "not configured"
    message = sent_message()

    answer = report(
        browser,
        twilio_params("delivered"),
        url=f"https://crm.example.com{PATH}",
        HTTP_HOST="crm.example.com",
        HTTP_X_FORWARDED_PROTO="https",
    )

    assert answer.status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_the_url_without_its_trailing_slash_works_too(browser):
    message = sent_message()

    answer = report(
        browser,
        twilio_params("delivered"),
        path=PATH.rstrip("/"),
        url=URL.rstrip("/"),
    )

    assert answer.status_code == 200
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_a_signed_report_without_sid_or_status_is_a_400_with_json(browser, missing):
    message = sent_message()
    params = twilio_params("delivered")
    del params[missing]

    answer = report(browser, params)

    assert answer.status_code == 400
    assert answer.json() == {"error": "MessageSid and MessageStatus are required"}
    message.refresh_from_db()
    assert message.status == Status.SENT


@pytest.mark.parametrize("sid", ["SM\x00abc", "SM abc", "SM" + "a" * 100])
def test_a_malformed_sid_is_a_400_not_a_database_error(browser, sid):
    answer = report(browser, twilio_params("delivered", sid=sid))

    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid MessageSid"}


def test_a_body_too_large_is_refused_before_anything_is_read(browser):
    message = sent_message()
    params = twilio_params("delivered", Padding="x" * 20_000)

    answer = report(browser, params)

    assert answer.status_code == 413
    assert "error" in answer.json()
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_only_post_is_answered(browser):
    answer = browser.get(PATH, twilio_params("delivered"))

    assert answer.status_code == 405
    assert answer["Allow"] == "POST"
    assert answer.json() == {"error": "method not allowed"}


def test_a_report_for_an_unknown_sid_is_answered_200_and_writes_nothing(browser):
    message = sent_message()
    before = message.updated_at

    answer = report(browser, twilio_params("delivered", sid="SM" + "f" * 32))

    assert answer.status_code == 200
    assert answer.json() == {"outcome": "unknown"}
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Status.SENT, None)
    assert message.updated_at == before


# --- what each status does -----------------------------------------------------------


def test_whatsapp_read_counts_as_delivered(browser):
    message = sent_message(channel="whatsapp")

    answer = report(browser, twilio_params("read"))

    assert answer.json() == {"outcome": "delivered"}
    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.delivered_at is not None


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_undelivered_or_failed_fails_the_message_with_twilios_error_code(
    browser, status
):
    message = sent_message()

    answer = report(browser, twilio_params(status, ErrorCode="30003"))

    assert answer.json() == {"outcome": "failed"}
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.reason == Reason.REJECTED
    assert message.error == f"Twilio reported the message {status} (error 30003)"
    assert message.delivered_at is None
    assert message.sent_at is not None  # it did leave: failed after sending


def test_a_number_that_cannot_receive_fails_as_an_invalid_address(browser):
    message = sent_message()

    report(
        browser,
        twilio_params("undelivered", ErrorCode="30005", ErrorMessage="Unknown\x00"),
    )

    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.FAILED, Reason.INVALID_ADDRESS)
    assert (
        message.error
        == "Twilio reported the message undelivered (error 30005): Unknown"
    )


@pytest.mark.parametrize(
    "status", ["accepted", "queued", "sending", "sent", "scheduled", "whatever"]
)
def test_intermediate_statuses_change_nothing(browser, status):
    message = sent_message()

    answer = report(browser, twilio_params(status))

    assert answer.status_code == 200
    assert answer.json() == {"outcome": "ignored"}
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Status.SENT, None)


def test_a_repeated_delivered_report_is_harmless(browser):
    message = sent_message()
    report(browser, twilio_params("delivered"))
    message.refresh_from_db()
    first = message.delivered_at

    again = report(browser, twilio_params("delivered"))

    assert again.status_code == 200
    assert again.json() == {"outcome": "unchanged"}
    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Status.DELIVERED, first)


@pytest.mark.parametrize("status", [Status.OPENED, Status.CLICKED])
def test_delivered_never_moves_an_opened_or_clicked_message_back(browser, status):
    message = sent_message(status=status, opened_at=timezone.now())

    report(browser, twilio_params("delivered"))

    message.refresh_from_db()
    assert message.status == status
    assert message.delivered_at is not None  # it was delivered, after all


@pytest.mark.parametrize(
    ("first", "then", "ends"),
    [
        ("delivered", "sent", Status.DELIVERED),
        ("delivered", "undelivered", Status.DELIVERED),
        ("read", "delivered", Status.DELIVERED),
        ("failed", "delivered", Status.FAILED),
        ("undelivered", "sent", Status.FAILED),
    ],
)
def test_out_of_order_reports_never_move_a_message_back(browser, first, then, ends):
    message = sent_message(channel="whatsapp")

    report(browser, twilio_params(first, ErrorCode="30008"))
    report(browser, twilio_params(then, ErrorCode="30008"))

    message.refresh_from_db()
    assert message.status == ends


def test_a_failed_report_leaves_a_message_not_yet_recorded_as_sent_alone(browser):
    # Requeued by "retry failed messages" after an earlier send with this sid.
    message = sent_message(status=Status.QUEUED)

    report(browser, twilio_params("undelivered"))
    report(browser, twilio_params("delivered"))

    message.refresh_from_db()
    assert (message.status, message.delivered_at) == (Status.QUEUED, None)


def test_an_email_with_the_same_provider_id_is_not_touched():
    email = sent_message(channel="email")

    assert record_twilio_status(SID, "delivered") == "unknown"

    email.refresh_from_db()
    assert email.status == Status.SENT


# --- concurrency ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_change_a_message_once():
    message = sent_message()
    reports = ["delivered", "read", "undelivered", "delivered"] * 3

    outcomes = race(len(reports), lambda i: [record_twilio_status(SID, reports[i])])

    assert not [o for o in outcomes if isinstance(o, Exception)]
    changed = [o for o in outcomes if o in ("delivered", "failed")]
    assert len(changed) == 1
    message.refresh_from_db()
    assert message.status == (
        Status.DELIVERED if changed == ["delivered"] else Status.FAILED
    )


# --- the backend asks for the reports ------------------------------------------------


@pytest.fixture
def twilio(settings):
    with FakeTwilio() as server:
        settings.TWILIO_API_BASE_URL = server.url
        settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
        settings.TWILIO_FROM_NUMBER = "+14155550000"
        settings.TWILIO_WHATSAPP_FROM = "+14155550001"
        settings.COMMUNICATIONS_SMS_BACKEND = (
            "communications.channels.twilio.TwilioBackend"
        )
        settings.COMMUNICATIONS_WHATSAPP_BACKEND = (
            "communications.channels.twilio.TwilioBackend"
        )
        yield server


def test_the_twilio_backend_asks_for_reports_and_one_marks_the_message_delivered(
    templates, twilio, browser
):
    client = ClientFactory()
    sms = enqueue_message("welcome", channel="sms", client=client)
    whatsapp = enqueue_message("trial_reminder", channel="whatsapp", client=client)

    assert send_due_messages() == {"sent": 2}

    assert [r["form"]["StatusCallback"] for r in twilio.requests] == [PUBLIC_URL] * 2
    sms.refresh_from_db()
    assert sms.status == Status.SENT
    answer = report(
        browser, twilio_params("delivered", sid=sms.provider_id), url=PUBLIC_URL
    )
    assert answer.json() == {"outcome": "delivered"}
    sms.refresh_from_db()
    whatsapp.refresh_from_db()
    assert (sms.status, whatsapp.status) == (Status.DELIVERED, Status.SENT)


def test_without_an_http_public_url_no_report_is_asked_for(templates, twilio, settings):
    settings.COMMUNICATIONS_PUBLIC_URL = ""
    enqueue_message("welcome", channel="sms", client=ClientFactory())

    assert send_due_messages() == {"sent": 1}

    assert "StatusCallback" not in twilio.requests[0]["form"]
