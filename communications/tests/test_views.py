import pytest
from django.core import signing
from django.test import Client as Browser
from django.urls import reverse

from communications import tracking
from communications.models import Message, OptOut
from communications.services import enqueue_message, send_due_messages

from .factories import ContactPreferencesFactory, MessageFactory

pytestmark = pytest.mark.django_db

Status = Message.Status


@pytest.fixture
def browser():
    # CSRF checks on, as for a real mail client or browser.
    return Browser(enforce_csrf_checks=True)


@pytest.fixture
def birthday(templates):
    client = ContactPreferencesFactory().client
    return enqueue_message("birthday", channel="email", client=client, period="2026")


def path_of(url: str) -> str:
    return url.removeprefix("https://studio.test")


def test_the_unsubscribe_link_asks_first_and_records_the_opt_out_on_post(
    browser, birthday
):
    url = path_of(tracking.unsubscribe_url(birthday.idempotency_key))

    page = browser.get(url)
    assert page.status_code == 200
    assert b"<form" in page.content
    assert not OptOut.objects.exists()

    done = browser.post(url)

    assert done.status_code == 200
    assert b"unsubscribed" in done.content
    opt_out = OptOut.objects.get()
    assert (opt_out.client, opt_out.kind, opt_out.channel) == (
        birthday.client,
        "birthday",
        "email",
    )
    assert opt_out.source == OptOut.Source.UNSUBSCRIBE_LINK


def test_a_one_click_unsubscribe_from_a_mail_client_needs_no_csrf_token(
    browser, birthday
):
    url = path_of(tracking.unsubscribe_url(birthday.idempotency_key))

    first = browser.post(url, {"List-Unsubscribe": "One-Click"})
    again = browser.post(url, {"List-Unsubscribe": "One-Click"})

    assert first.status_code == again.status_code == 200
    opt_out = OptOut.objects.get()
    assert opt_out.source == OptOut.Source.ONE_CLICK


def test_after_unsubscribing_the_next_message_of_that_kind_is_skipped(
    browser, birthday
):
    browser.post(path_of(tracking.unsubscribe_url(birthday.idempotency_key)))

    next_year = enqueue_message(
        "birthday", channel="email", client=birthday.client, period="2027"
    )

    assert (next_year.status, next_year.reason) == (Status.SKIPPED, "opted_out")


@pytest.mark.parametrize("name", ["unsubscribe", "open", "click"])
def test_a_tampered_token_gets_400_not_500(browser, birthday, name):
    good = {
        "unsubscribe": tracking.unsubscribe_token(birthday.idempotency_key),
        "open": tracking.open_token(birthday.pk),
        "click": tracking.click_token(birthday.pk, "https://example.com/"),
    }[name]
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")

    for token in (tampered, "nonsense", good + "x"):
        response = browser.get(reverse(f"communications:{name}", args=[token]))
        assert response.status_code == 400, token

    assert not OptOut.objects.exists()


def test_a_token_for_one_use_is_refused_by_another(browser, birthday):
    open_token = tracking.open_token(birthday.pk)

    response = browser.get(reverse("communications:click", args=[open_token]))

    assert response.status_code == 400


def test_the_open_pixel_is_a_gif_and_marks_the_message_opened_once():
    message = MessageFactory(status=Status.SENT)
    url = reverse("communications:open", args=[tracking.open_token(message.pk)])

    first = Browser().get(url)
    message.refresh_from_db()
    opened_at = message.opened_at
    Browser().get(url)

    message.refresh_from_db()
    assert first.status_code == 200
    assert first["Content-Type"] == "image/gif"
    assert first.content.startswith(b"GIF89a")
    assert message.status == Status.OPENED
    assert message.opened_at == opened_at is not None


def test_a_click_redirects_to_the_signed_target_and_marks_clicked():
    message = MessageFactory(status=Status.SENT)
    url = reverse(
        "communications:click",
        args=[tracking.click_token(message.pk, "https://example.com/offer?a=1&b=2")],
    )

    response = Browser().get(url)

    message.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/offer?a=1&b=2"
    assert message.status == Status.CLICKED
    assert message.clicked_at and message.opened_at


def test_opening_after_a_click_does_not_move_the_status_back():
    message = MessageFactory(status=Status.CLICKED)

    Browser().get(
        reverse("communications:open", args=[tracking.open_token(message.pk)])
    )

    message.refresh_from_db()
    assert message.status == Status.CLICKED


def test_a_click_token_to_anything_but_a_web_address_is_refused():
    message = MessageFactory(status=Status.SENT)
    token = signing.dumps(
        {"m": message.pk, "u": "javascript:alert(1)"},
        salt=tracking.CLICK_SALT,
        compress=True,
    )

    response = Browser().get(reverse("communications:click", args=[token]))

    assert response.status_code == 400


def test_links_in_a_sent_html_email_go_through_the_click_redirect(templates, settings):
    from django.core import mail

    from communications.models import MessageTemplate

    MessageTemplate.objects.filter(kind="campaign", channel="email").update(
        body_html='<p><a href="https://example.com/spring?x=1&amp;y=2">Offer</a> '
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    )
    client = ContactPreferencesFactory().client
    message = enqueue_message(
        "campaign", channel="email", client=client, period="s", context={"body": "x"}
    )

    send_due_messages()

    html = mail.outbox[0].alternatives[0].content
    assert 'href="https://example.com/spring' not in html
    assert "https://studio.test/c/l/" in html
    assert tracking.unsubscribe_url(message.idempotency_key) in html  # untouched
    click = html.split('href="https://studio.test')[1].split('"')[0]
    response = Browser().get(click.replace("&amp;", "&"))
    assert response["Location"] == "https://example.com/spring?x=1&y=2"


def test_the_unsubscribe_page_speaks_the_messages_language(browser, templates):
    from clients.tests.factories import ClientFactory

    client = ClientFactory(preferred_language="es")
    message = enqueue_message("welcome", channel="email", client=client)

    page = browser.get(path_of(tracking.unsubscribe_url(message.idempotency_key)))

    assert page.status_code == 200
    assert 'lang="es"' in page.content.decode()
