"""Lead webhooks over HTTP: verification, parsing, audit rows, duplicates, the Graph
API (a local server, never the internet)."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client

from leads.models import Lead, Source, WebhookDelivery, WebhookSecret
from leads.tests.factories import (
    LeadFactory,
    SalespersonFactory,
    WebhookSecretFactory,
)
from leads.views import read_body
from leads.webhooks import WebhookError

pytestmark = pytest.mark.django_db

META_SECRET = "meta-app-secret"
WHATSAPP_SECRET = "whatsapp-app-secret"
TELEGRAM_SECRET = "telegram-secret-token"
LANDING_KEY = "landing-api-key"
CALL_KEY = "call-tracking-api-key"
ACCESS_TOKEN = "graph-access-token"
SECRET_VALUES = (META_SECRET, WHATSAPP_SECRET, TELEGRAM_SECRET, LANDING_KEY, CALL_KEY)


@pytest.fixture(autouse=True)
def hooks(settings):
    settings.LEADS_WEBHOOKS = {
        "meta": {
            "secret": META_SECRET,
            "verify_token": "meta-verify",
            "access_token": ACCESS_TOKEN,
        },
        "telegram": {"secret": TELEGRAM_SECRET},
        "whatsapp": {"secret": WHATSAPP_SECRET, "verify_token": "wa-verify"},
        "landing_page": {"secret": LANDING_KEY},
        "call_tracking": {"secret": CALL_KEY},
    }
    settings.LEADS_WEBHOOK_MAX_BYTES = 64 * 1024
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    # Nothing in these tests may reach the internet: tests that need the Graph API
    # start a local server (the ``graph`` fixture); this port (discard) refuses.
    settings.LEADS_META_GRAPH_URL = "http://127.0.0.1:9/v19.0"
    return settings.LEADS_WEBHOOKS


def url(source: str) -> str:
    return f"/api/leads/webhooks/{source}/"


def encode(payload) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(client, source: str, payload, *, headers: dict | None = None):
    return client.post(
        url(source),
        data=encode(payload),
        content_type="application/json",
        headers=headers or {},
    )


def post_signed(client, source: str, payload, secret: str | None = None):
    body = encode(payload)
    secret = secret or {"meta": META_SECRET, "whatsapp": WHATSAPP_SECRET}[source]
    return post(
        client, source, body, headers={"X-Hub-Signature-256": signature(body, secret)}
    )


def post_authenticated(client, source: str, payload):
    headers = {
        "telegram": {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        "landing_page": {"X-Api-Key": LANDING_KEY},
        "call_tracking": {"X-Api-Key": CALL_KEY},
    }
    if source in ("meta", "whatsapp"):
        return post_signed(client, source, payload)
    return post(client, source, payload, headers=headers[source])


def meta_payload(leadgen_id="900100200300", *, field_data=True, **value):
    value = {
        "leadgen_id": leadgen_id,
        "form_id": "555000111",
        "ad_id": "777000111",
        "page_id": "123",
        "created_time": 1_700_000_000,
        **value,
    }
    if field_data:
        value["field_data"] = [
            {"name": "full_name", "values": ["Ana Pérez"]},
            {"name": "phone_number", "values": ["+14155550142"]},
            {"name": "email", "values": ["Ana@Example.com"]},
            {"name": "preferred_time", "values": ["mornings"]},
        ]
    return {
        "object": "page",
        "entry": [
            {"id": "123", "time": 1, "changes": [{"field": "leadgen", "value": value}]}
        ],
    }


def telegram_update(update_id=5001, *, contact=True):
    message = {
        "message_id": 77,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "first_name": "Ivan", "username": "ivan_s"},
        "text": "hello",
    }
    if contact:
        message["contact"] = {
            "phone_number": "14155550143",
            "first_name": "Ivan",
            "last_name": "Sokolov",
            "user_id": 42,
        }
    return {"update_id": update_id, "message": message}


def whatsapp_payload(*messages, names=None):
    names = names or {}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "contacts": [
                                {"wa_id": wa_id, "profile": {"name": name}}
                                for wa_id, name in names.items()
                            ],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def wa_message(sender="14155550144", message_id="wamid.A1", body="Hi, prices?"):
    return {
        "from": sender,
        "id": message_id,
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": body},
    }


LANDING = {
    "name": "Lucía Gómez",
    "phone": "(415) 555-0145",
    "email": "lucia@example.com",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "spring",
    "campaign": "Spring offer",
    "form": "Cryo trial",
    "submission_id": "sub-1",
    "notes": "Call after 5pm",
}
CALL = {
    "caller_number": "+14155550146",
    "call_id": "call-1",
    "campaign": "Radio",
    "name": "Marco Rossi",
    "tracking_number": "+14155550199",
    "duration": 63,
}
VALID = {
    "meta": meta_payload,
    "telegram": telegram_update,
    "whatsapp": lambda: whatsapp_payload(wa_message()),
    "landing_page": lambda: dict(LANDING),
    "call_tracking": lambda: dict(CALL),
}
ALL_HOOKS = list(VALID)


def nothing_written():
    return not Lead.objects.exists() and not WebhookDelivery.objects.exists()


# --- a local Graph API ----------------------------------------------------------------


class GraphServer:
    """Answers GET /<id> with ``responses[id]`` = (status, body); records requests."""

    def __init__(self):
        self.responses: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                lead_id = urlsplit(self.path).path.rsplit("/", 1)[-1]
                status, body = server.responses.get(lead_id, (404, b"{}"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v19.0"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def graph(settings):
    with GraphServer() as server:
        settings.LEADS_META_GRAPH_URL = server.url
        yield server


GRAPH_LEAD = {
    "id": "900100200301",
    "created_time": "2023-11-14T22:13:20+0000",
    "platform": "ig",
    "field_data": [
        {"name": "first_name", "values": ["Olga"]},
        {"name": "last_name", "values": ["Ivanova"]},
        {"name": "phone_number", "values": ["p:+14155550147"]},
        {"name": "email", "values": ["olga@example.com"]},
    ],
}


# --- Meta Lead Ads --------------------------------------------------------------------


def test_a_signed_meta_lead_with_field_data_creates_a_lead(client):
    response = post_signed(client, "meta", meta_payload())

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert response.json() == {"outcome": "created", "lead": lead.pk}
    assert lead.full_name == "Ana Pérez"
    assert lead.phone == "+14155550142"
    assert lead.email == "ana@example.com"
    assert lead.source == Source.FACEBOOK
    assert lead.external_id == "900100200300"
    assert lead.form_name == "555000111"
    assert "preferred_time: mornings" in lead.notes
    assert lead.received_at.timestamp() == 1_700_000_000
    delivery = WebhookDelivery.objects.get()
    assert (delivery.hook, delivery.external_id, delivery.outcome, delivery.lead) == (
        "meta",
        "900100200300",
        "created",
        lead,
    )


def test_a_meta_lead_from_instagram_keeps_its_platform(client):
    response = post_signed(client, "meta", meta_payload(platform="ig"))

    assert response.status_code == 200
    assert Lead.objects.get().source == Source.INSTAGRAM


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=deadbeef",
        "md5=0123",
        "sha1=" + "0" * 40,
        "garbage",
        "sha256=ÿÿÿ",
    ],
)
@pytest.mark.parametrize("source", ["meta", "whatsapp"])
def test_a_missing_malformed_or_wrong_signature_is_refused(client, source, header):
    body = encode(VALID[source]())
    headers = {} if header is None else {"X-Hub-Signature-256": header}

    response = post(client, source, body, headers=headers)

    assert response.status_code == 403
    assert "error" in response.json()
    assert nothing_written()


@pytest.mark.parametrize("source", ["meta", "whatsapp"])
def test_a_body_signed_with_another_secret_or_altered_is_refused(client, source):
    body = encode(VALID[source]())
    good = signature(body, META_SECRET if source == "meta" else WHATSAPP_SECRET)

    wrong_secret = post_signed(client, source, body, secret="not-the-secret")
    altered = post(client, source, body + b" ", headers={"X-Hub-Signature-256": good})

    assert wrong_secret.status_code == 403
    assert altered.status_code == 403
    assert nothing_written()


@pytest.mark.parametrize(
    ("source", "token"), [("meta", "meta-verify"), ("whatsapp", "wa-verify")]
)
def test_the_subscription_challenge_is_echoed_for_the_right_token(
    client, source, token
):
    response = client.get(
        url(source),
        {
            "hub.mode": "subscribe",
            "hub.verify_token": token,
            "hub.challenge": "1158201444",
        },
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize("source", ["meta", "whatsapp"])
@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {
            "hub.mode": "unsubscribe",
            "hub.verify_token": "meta-verify",
            "hub.challenge": "1",
        },
        {"hub.challenge": "1"},
        {},
    ],
)
def test_the_subscription_challenge_with_a_wrong_token_is_refused(
    client, source, params
):
    response = client.get(url(source), params)

    assert response.status_code == 403
    assert "error" in response.json()


def test_a_meta_lead_without_field_data_is_read_from_the_graph_api(client, graph):
    graph.responses["900100200301"] = (200, json.dumps(GRAPH_LEAD).encode())

    response = post_signed(
        client, "meta", meta_payload("900100200301", field_data=False)
    )

    assert response.status_code == 200, response.content
    lead = Lead.objects.get()
    assert response.json() == {"outcome": "created", "lead": lead.pk}
    assert (lead.full_name, lead.phone, lead.email) == (
        "Olga Ivanova",
        "+14155550147",
        "olga@example.com",
    )
    assert lead.source == Source.INSTAGRAM
    assert lead.external_id == "900100200301"
    (path,) = graph.requests
    assert urlsplit(path).path == "/v19.0/900100200301"
    assert parse_qs(urlsplit(path).query)["access_token"] == [ACCESS_TOKEN]


@pytest.mark.parametrize(
    "answer",
    [
        (500, b'{"error": {"message": "boom"}}'),
        (400, b'{"error": {"message": "Invalid OAuth access token"}}'),
        (200, b"not json"),
        (200, b"[1, 2]"),
        (200, b'{"id": "900100200302"}'),
    ],
)
def test_a_graph_api_failure_answers_502_and_writes_nothing(client, graph, answer):
    graph.responses["900100200302"] = answer

    response = post_signed(
        client, "meta", meta_payload("900100200302", field_data=False)
    )

    assert response.status_code == 502
    assert "error" in response.json()
    assert nothing_written()


def test_an_unreachable_graph_api_answers_502(client, settings):
    with GraphServer() as server:
        address = server.url
    settings.LEADS_META_GRAPH_URL = address  # the server is closed now

    response = post_signed(client, "meta", meta_payload(field_data=False))

    assert response.status_code == 502
    assert nothing_written()


def test_a_meta_lead_to_fetch_without_an_access_token_answers_503(client, hooks):
    hooks["meta"]["access_token"] = ""

    response = post_signed(client, "meta", meta_payload(field_data=False))

    assert response.status_code == 503
    assert nothing_written()


def test_a_repeated_meta_delivery_is_not_fetched_again(client, graph):
    graph.responses["900100200301"] = (200, json.dumps(GRAPH_LEAD).encode())
    payload = meta_payload("900100200301", field_data=False)
    post_signed(client, "meta", payload)

    response = post_signed(client, "meta", payload)

    assert response.json()["outcome"] == "duplicate"
    assert len(graph.requests) == 1


def test_a_meta_delivery_without_leadgen_changes_is_ignored(client):
    payload = {
        "object": "page",
        "entry": [{"changes": [{"field": "feed", "value": {}}]}],
    }

    response = post_signed(client, "meta", payload)

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "lead": None}
    assert not Lead.objects.exists()
    assert WebhookDelivery.objects.get().outcome == "ignored"


# --- Telegram -------------------------------------------------------------------------


def test_a_telegram_contact_with_the_right_secret_creates_a_lead(client):
    response = post_authenticated(client, "telegram", telegram_update())

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert response.json() == {"outcome": "created", "lead": lead.pk}
    assert lead.phone == "+14155550143"
    assert lead.full_name == "Ivan Sokolov"
    assert lead.source == Source.TELEGRAM
    assert lead.external_id == "5001"
    assert "@ivan_s" in lead.notes
    assert WebhookDelivery.objects.get().external_id == "5001"


@pytest.mark.parametrize("token", [None, "", "wrong", TELEGRAM_SECRET + "x", "тайна"])
def test_a_telegram_update_without_the_right_secret_is_refused(client, token):
    headers = {} if token is None else {"X-Telegram-Bot-Api-Secret-Token": token}

    response = post(client, "telegram", telegram_update(), headers=headers)

    assert response.status_code == 403
    assert nothing_written()


def test_a_telegram_message_without_a_contact_is_ignored_but_kept(client):
    response = post_authenticated(client, "telegram", telegram_update(contact=False))

    assert response.status_code == 200
    assert response.json() == {"outcome": "ignored", "lead": None}
    assert not Lead.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.external_id) == ("ignored", "5001")


def test_a_telegram_update_without_an_id_is_a_bad_request(client):
    update = telegram_update()
    del update["update_id"]
    del update["message"]["message_id"]

    response = post_authenticated(client, "telegram", update)

    assert response.status_code == 400
    assert nothing_written()


# --- WhatsApp -------------------------------------------------------------------------


def test_a_signed_whatsapp_message_creates_a_lead(client):
    payload = whatsapp_payload(wa_message(), names={"14155550144": "Sofía Ruiz"})

    response = post_signed(client, "whatsapp", payload)

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert response.json() == {"outcome": "created", "lead": lead.pk}
    assert (lead.phone, lead.full_name, lead.source, lead.external_id) == (
        "+14155550144",
        "Sofía Ruiz",
        Source.WHATSAPP,
        "wamid.A1",
    )
    assert "Hi, prices?" in lead.notes


def test_whatsapp_read_receipts_are_ignored_but_kept(client):
    payload = whatsapp_payload()
    payload["entry"][0]["changes"][0]["value"]["statuses"] = [
        {"id": "wamid.X", "status": "read"}
    ]

    response = post_signed(client, "whatsapp", payload)

    assert response.json() == {"outcome": "ignored", "lead": None}
    assert WebhookDelivery.objects.get().outcome == "ignored"


def test_a_whatsapp_batch_is_one_transaction(client):
    payload = whatsapp_payload(
        wa_message("14155550148", "wamid.B1"), wa_message("12", "wamid.B2")
    )

    response = post_signed(client, "whatsapp", payload)

    assert response.status_code == 400
    assert response.json() == {"error": "no valid phone or email"}
    assert nothing_written()


def test_a_whatsapp_batch_answers_for_each_message(client):
    payload = whatsapp_payload(
        wa_message("14155550148", "wamid.C1"), wa_message("14155550149", "wamid.C2")
    )

    response = post_signed(client, "whatsapp", payload)

    assert response.status_code == 200
    answer = response.json()
    assert [item["outcome"] for item in answer["items"]] == ["created", "created"]
    assert Lead.objects.count() == 2
    assert WebhookDelivery.objects.count() == 2


# --- landing pages and call tracking --------------------------------------------------


def test_a_landing_page_form_with_the_right_key_creates_a_lead(client):
    response = post_authenticated(client, "landing_page", LANDING)

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert lead.full_name == "Lucía Gómez"
    assert lead.phone == "+14155550145"
    assert lead.email == "lucia@example.com"
    assert lead.source == Source.LANDING_PAGE
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == (
        "google",
        "cpc",
        "spring",
    )
    assert (lead.campaign_name, lead.form_name) == ("Spring offer", "Cryo trial")
    assert lead.external_id == "sub-1"
    assert lead.notes == "Call after 5pm"


def test_a_call_with_the_right_key_creates_a_lead(client):
    response = post_authenticated(client, "call_tracking", CALL)

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert (lead.phone, lead.full_name, lead.source, lead.external_id) == (
        "+14155550146",
        "Marco Rossi",
        Source.CALL_TRACKING,
        "call-1",
    )
    assert lead.campaign_name == "Radio"
    assert "duration (s): 63" in lead.notes


@pytest.mark.parametrize("source", ["landing_page", "call_tracking"])
@pytest.mark.parametrize("key", [None, "", "wrong", LANDING_KEY + CALL_KEY, "ключ"])
def test_a_wrong_or_missing_api_key_is_refused(client, source, key):
    headers = {} if key is None else {"X-Api-Key": key}

    response = post(client, source, VALID[source](), headers=headers)

    assert response.status_code == 403
    assert "error" in response.json()
    assert nothing_written()


def test_one_sources_key_does_not_open_another(client):
    response = post(client, "call_tracking", CALL, headers={"X-Api-Key": LANDING_KEY})

    assert response.status_code == 403


# --- configuration --------------------------------------------------------------------


def test_an_active_admin_secret_wins_over_settings(client):
    WebhookSecretFactory(hook=WebhookSecret.Hook.LANDING_PAGE, secret="from-the-admin")

    with_settings_key = post(
        client, "landing_page", LANDING, headers={"X-Api-Key": LANDING_KEY}
    )
    with_admin_key = post(
        client, "landing_page", LANDING, headers={"X-Api-Key": "from-the-admin"}
    )

    assert with_settings_key.status_code == 403
    assert with_admin_key.status_code == 200


def test_an_admin_secret_signs_meta_and_answers_its_challenge(client):
    WebhookSecretFactory(
        hook=WebhookSecret.Hook.META,
        secret="admin-app-secret",
        verify_token="admin-verify",
    )

    refused = post_signed(client, "meta", meta_payload(), secret=META_SECRET)
    accepted = post_signed(client, "meta", meta_payload(), secret="admin-app-secret")
    challenge = client.get(
        url("meta"),
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "admin-verify",
            "hub.challenge": "9",
        },
    )

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert challenge.content == b"9"


def test_an_inactive_admin_secret_is_not_used(client):
    WebhookSecretFactory(
        hook=WebhookSecret.Hook.CALL_TRACKING, secret="old-key", is_active=False
    )

    assert (
        post(
            client, "call_tracking", CALL, headers={"X-Api-Key": "old-key"}
        ).status_code
        == 403
    )
    assert post_authenticated(client, "call_tracking", CALL).status_code == 200


def test_an_admin_secret_configures_a_hook_settings_leave_empty(client, hooks):
    hooks["telegram"]["secret"] = ""
    WebhookSecretFactory(hook=WebhookSecret.Hook.TELEGRAM, secret="admin-token")

    response = post(
        client,
        "telegram",
        telegram_update(),
        headers={"X-Telegram-Bot-Api-Secret-Token": "admin-token"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize("source", ALL_HOOKS)
def test_a_hook_without_a_secret_answers_503_and_never_accepts(
    client, settings, source
):
    settings.LEADS_WEBHOOKS = {}

    unsigned = post(client, source, VALID[source]())
    with_empty_key = post(
        client,
        source,
        VALID[source](),
        headers={
            "X-Api-Key": "",
            "X-Telegram-Bot-Api-Secret-Token": "",
            "X-Hub-Signature-256": signature(encode(VALID[source]()), ""),
        },
    )

    assert unsigned.status_code == 503
    assert with_empty_key.status_code == 503
    assert "not configured" in unsigned.json()["error"]
    assert nothing_written()


def test_a_challenge_without_a_verify_token_answers_503(client, hooks):
    hooks["whatsapp"]["verify_token"] = ""

    response = client.get(
        url("whatsapp"),
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
    )

    assert response.status_code == 503


# --- duplicates, merges, audit --------------------------------------------------------


@pytest.mark.parametrize("source", ALL_HOOKS)
def test_a_repeated_delivery_creates_nothing_new_but_is_kept_for_audit(client, source):
    first = post_authenticated(client, source, VALID[source]())
    lead_id = first.json()["lead"]

    again = post_authenticated(client, source, VALID[source]())

    assert again.status_code == 200
    assert again.json() == {"outcome": "duplicate", "lead": lead_id}
    assert Lead.objects.count() == 1
    outcomes = list(
        WebhookDelivery.objects.order_by("pk").values_list("outcome", "lead")
    )
    assert outcomes == [("created", lead_id), ("duplicate", lead_id)]


def test_a_delivery_for_a_known_phone_fills_the_blanks_of_that_lead(client):
    existing = LeadFactory(
        phone="+14155550145",
        full_name="",
        email="",
        campaign_name="Staff typed this",
        source=Source.WALK_IN,
    )

    response = post_authenticated(client, "landing_page", LANDING)

    assert response.status_code == 200
    assert response.json() == {"outcome": "merged", "lead": existing.pk}
    existing.refresh_from_db()
    assert existing.full_name == "Lucía Gómez"
    assert existing.email == "lucia@example.com"
    assert existing.utm_source == "google"
    assert existing.campaign_name == "Staff typed this"
    assert existing.source == Source.WALK_IN
    assert Lead.objects.count() == 1
    assert WebhookDelivery.objects.get().outcome == "merged"


def test_the_audit_row_keeps_the_payload_and_no_secret(client):
    response = client.post(
        url("landing_page"),
        data=encode(LANDING),
        content_type="application/json",
        headers={"X-Api-Key": LANDING_KEY, "User-Agent": "FormRelay/1.0"},
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload == LANDING
    assert delivery.remote_addr == "203.0.113.9"
    assert delivery.headers["User-Agent"] == "FormRelay/1.0"
    assert delivery.headers["Content-Type"] == "application/json"
    assert "X-Api-Key" not in delivery.headers
    stored = json.dumps(delivery.headers)
    assert not any(secret in stored for secret in SECRET_VALUES)


@pytest.mark.parametrize("source", ["meta", "telegram"])
def test_no_signature_or_token_header_is_stored(client, source):
    post_authenticated(client, source, VALID[source]())

    headers = WebhookDelivery.objects.get().headers
    assert set(headers) <= {
        "Content-Type",
        "Content-Length",
        "User-Agent",
        "X-Forwarded-For",
    }
    assert not any(secret in json.dumps(headers) for secret in SECRET_VALUES)


def test_a_new_lead_is_assigned_to_a_salesperson(client):
    salesperson = SalespersonFactory()

    post_authenticated(client, "call_tracking", CALL)

    assert Lead.objects.get().assigned_to == salesperson


def test_a_contact_without_a_valid_phone_or_email_is_refused(client):
    payload = {**LANDING, "phone": "12", "email": "not-an-email"}

    response = post_authenticated(client, "landing_page", payload)

    assert response.status_code == 400
    assert response.json() == {"error": "no valid phone or email"}
    assert nothing_written()


# --- bad requests ---------------------------------------------------------------------


@pytest.mark.parametrize("source", ALL_HOOKS)
def test_an_oversized_body_is_refused_before_it_is_read(client, settings, source):
    settings.LEADS_WEBHOOK_MAX_BYTES = 200
    payload = VALID[source]()
    payload["padding"] = "x" * 500

    response = post_authenticated(client, source, payload)

    assert response.status_code == 413
    assert "error" in response.json()
    assert nothing_written()


@pytest.mark.parametrize("source", ALL_HOOKS)
@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"\xff\xfe", b"[]", b"null", b'"text"']
)
def test_a_body_that_is_not_a_json_object_is_a_bad_request(client, source, body):
    response = post_authenticated(client, source, body)

    assert response.status_code == 400
    assert "error" in response.json()
    assert nothing_written()


@pytest.mark.parametrize("source", ALL_HOOKS)
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(client, source, method):
    response = getattr(client, method)(url(source))

    assert response.status_code == 405
    assert "POST" in response["Allow"]
    assert "error" in response.json()


@pytest.mark.parametrize("source", ["telegram", "landing_page", "call_tracking"])
def test_get_is_not_allowed_where_there_is_no_challenge(client, source):
    response = client.get(url(source), {"hub.mode": "subscribe"})

    assert response.status_code == 405


def test_an_unknown_source_is_not_found(client):
    response = post(client, "myspace", LANDING, headers={"X-Api-Key": LANDING_KEY})

    assert response.status_code == 404
    assert "error" in response.json()


def test_the_url_works_without_its_trailing_slash(client):
    response = client.post(
        "/api/leads/webhooks/landing_page",
        data=encode(LANDING),
        content_type="application/json",
        headers={"X-Api-Key": LANDING_KEY},
    )

    assert response.status_code == 200


HOSTILE_BODIES = [
    b"[]",
    b"[{}]",
    b"null",
    b"1e999",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b"{}",
    b'{"entry": null}',
    b'{"entry": {}}',
    b'{"entry": [null, 1, "x", []]}',
    b'{"entry": [{"changes": null}]}',
    b'{"entry": [{"changes": [null, {"value": null}, {"field": "leadgen"}]}]}',
    b'{"entry": [{"changes": [{"field": "leadgen", "value": {"leadgen_id": null}}]}]}',
    b'{"entry": [{"changes": [{"field": "leadgen", "value": {"leadgen_id": [1]}}]}]}',
    b'{"entry": [{"changes": [{"value": {"leadgen_id": "1", '
    b'"field_data": [null, {"name": 5, "values": null}]}}]}]}',
    b'{"entry": [{"changes": [{"value": {"messages": [null, {"from": {}}]}}]}]}',
    b'{"entry": [{"changes": [{"value": {"messages": [{"from": "1", "id": "m"}], '
    b'"contacts": [null, {"profile": 1}]}}]}]}',
    b'{"update_id": true, "message": {"contact": []}}',
    b'{"update_id": 1, "message": {"contact": '
    b'{"phone_number": 14155550150, "first_name": {"x": 1}}}}',
    b'{"update_id": 2, "message": '
    b'{"contact": {"phone_number": "\\u0000+1\\ud800"}, "date": 1e300}}',
    b'{"update_id": 99999999999999999999999999999999999999999999, "message": []}',
    b'{"phone": [], "email": {}, "name": null}',
    b'{"phone": 14155550151, "name": "\\u0000\\ud800\\udfff", '
    b'"submitted_at": "9999-12-31T23:59:59+00:00"}',
    b'{"caller_number": "+14155550152", "call_id": {"n": 1}, "started_at": -1e20}',
    b'{"caller_number": "+14155550153", "call_id": "' + b"9" * 400 + b'"}',
    b'{"phone": "+14155550154", "external_id": 1' + b"0" * 5000 + b"}",
    b'{"phone": "+14155550155", "email": "' + b"a" * 300 + b'@example.com"}',
    b'{"\\u0000key": "\\u0000", "phone": "+14155550156", "notes": "'
    + "Привет 👋 \\u202e".encode()
    + b'"}',
    json.dumps({"phone": "+14155550157", "name": "=" + "N" * 400}).encode(),
    json.dumps(
        {"phone": "+14155550158", "call_id": "c", "campaign": "x" * 900}
    ).encode(),
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}",
    b'{"a": "' + "😀".encode() * 1000 + b'"}',
]


@pytest.mark.parametrize("source", ALL_HOOKS)
@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_bodies_never_cause_a_server_error(client, source, body):
    response = post_authenticated(client, source, body)

    assert response.status_code in (200, 400), response.content
    answer = response.json()
    if response.status_code == 400:
        assert "error" in answer
        assert nothing_written()
    else:
        assert answer["outcome"] in ("created", "merged", "ignored", "duplicate")
        assert WebhookDelivery.objects.count() >= 1


def test_a_body_longer_than_its_content_length_says_is_refused(rf, settings):
    # A server may hand over a body its Content-Length does not announce (chunked).
    settings.LEADS_WEBHOOK_MAX_BYTES = 100
    request = rf.post(url("landing_page"), data=b"{}" * 100, content_type="text/plain")
    request.META["CONTENT_LENGTH"] = "0"

    with pytest.raises(WebhookError) as refused:
        read_body(request)

    assert refused.value.status == 413


def test_a_long_name_is_kept_in_part(client):
    payload = {**LANDING, "name": "=" + "N" * 400}

    response = post_authenticated(client, "landing_page", payload)

    assert response.status_code == 200
    lead = Lead.objects.get()
    assert lead.full_name.startswith("'=NNN")
    assert len(lead.full_name) <= Lead._meta.get_field("full_name").max_length


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_racing_the_original_delivery_is_a_duplicate():
    body = encode(LANDING)
    barrier = threading.Barrier(4)
    answers = []

    def deliver():
        try:
            barrier.wait(timeout=10)
            response = Client().post(
                url("landing_page"),
                data=body,
                content_type="application/json",
                headers={"X-Api-Key": LANDING_KEY},
            )
            answers.append((response.status_code, response.json()["outcome"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [
        (200, "created"),
        (200, "duplicate"),
        (200, "duplicate"),
        (200, "duplicate"),
    ]
    assert Lead.objects.count() == 1
    assert WebhookDelivery.objects.count() == 4
