"""Meta's platforms: Lead Ads (fields read from the Graph API) and the WhatsApp Cloud
API. Both sign the raw body with the app secret and subscribe with a challenge."""

import hashlib
import hmac
import http.client
import json
import logging
import re
import urllib.request
from urllib.parse import quote, urlencode

from django.conf import settings

from ..models import Source
from .base import (
    BaseHook,
    Credentials,
    Hook,
    Item,
    WebhookError,
    as_dict,
    as_list,
    ident,
    reject_constant,
    same_secret,
    text,
    timestamp,
)

logger = logging.getLogger(__name__)

GRAPH_TIMEOUT_SECONDS = 10
GRAPH_MAX_BYTES = 1024 * 1024
GRAPH_FIELDS = "created_time,field_data,platform,form_id,ad_id"


class SignedHook(BaseHook):
    """Meta and WhatsApp: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body
    with the app secret>``."""

    answers_challenge = True

    def verify(self, request, body: bytes, credentials: Credentials) -> None:
        header = request.headers.get("X-Hub-Signature-256", "")
        scheme, _sep, given = header.strip().partition("=")
        expected = hmac.new(
            credentials.secret.encode("utf-8"), body, hashlib.sha256
        ).hexdigest()
        if scheme.lower() != "sha256" or not same_secret(given.lower(), expected):
            raise WebhookError(403, "invalid or missing X-Hub-Signature-256")


def entries(payload: dict) -> list[dict]:
    if not isinstance(payload.get("entry"), list):
        raise WebhookError(400, "missing entry")
    return [as_dict(entry) for entry in payload["entry"]]


def changes(payload: dict) -> list[dict]:
    return [
        as_dict(change)
        for entry in entries(payload)
        for change in as_list(entry.get("changes"))
    ]


class MetaHook(SignedHook):
    """Meta Lead Ads: a ``leadgen`` change per lead, with only its ids; the fields
    come from the Graph API unless a relay already put ``field_data`` in it."""

    name = Hook.META

    def parse(self, payload: dict) -> list[Item]:
        items = []
        for change in changes(payload):
            value = as_dict(change.get("value"))
            if change.get("field") != "leadgen" and "leadgen_id" not in value:
                continue
            leadgen_id = ident(value.get("leadgen_id"))
            if not leadgen_id:
                raise WebhookError(400, "a leadgen change without leadgen_id")
            item = Item(leadgen_id, None, Source.FACEBOOK, extra={"value": value})
            if isinstance(value.get("field_data"), list):
                item.data, item.source = meta_lead_data(value, {})
            else:
                item.fetch_id = leadgen_id
            items.append(item)
        return items or [Item("", None, Source.FACEBOOK)]

    def complete(self, item: Item, credentials: Credentials) -> None:
        if not item.fetch_id:
            return
        if not credentials.access_token:
            raise WebhookError(503, "the Meta access token is not configured")
        lead = fetch_meta_lead(item.fetch_id, credentials.access_token)
        item.data, item.source = meta_lead_data(item.extra.get("value", {}), lead)


def meta_lead_data(value: dict, lead: dict) -> tuple[dict, str]:
    """A lead's raw data and source from a change ``value`` and a Graph ``lead``."""
    answers: dict[str, str] = {}
    for entry in as_list(lead.get("field_data")) or as_list(value.get("field_data")):
        entry = as_dict(entry)
        name = text(entry.get("name")).lower()
        given = [text(v) for v in as_list(entry.get("values")) if text(v)]
        if name and given:
            answers[name] = ", ".join(given)
    first = answers.pop("first_name", "")
    last = answers.pop("last_name", "")
    full_name = answers.pop("full_name", "") or " ".join(filter(None, [first, last]))
    phone = answers.pop("phone_number", "") or answers.pop("phone", "")
    email = answers.pop("email", "")

    def pick(name: str) -> str:
        return text(lead.get(name)) or text(value.get(name))

    platform = pick("platform").lower()
    source = Source.INSTAGRAM if platform in ("ig", "instagram") else Source.FACEBOOK
    data = {
        "full_name": full_name,
        "phone": phone,
        "email": email,
        "external_id": ident(value.get("leadgen_id")) or ident(lead.get("id")),
        "campaign_name": pick("campaign_name"),
        "ad_name": pick("ad_name"),
        "form_name": pick("form_name") or pick("form_id"),
        "notes": "; ".join(f"{name}: {answer}" for name, answer in answers.items()),
        "received_at": timestamp(value.get("created_time"))
        or timestamp(lead.get("created_time")),
    }
    return data, source


def fetch_meta_lead(leadgen_id: str, access_token: str) -> dict:
    """The lead from the Graph API; WebhookError(502) when it cannot be read."""
    if not re.fullmatch(r"\d{1,40}", leadgen_id):
        raise WebhookError(400, "leadgen_id is not a Meta id")
    base = str(settings.LEADS_META_GRAPH_URL).rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise WebhookError(503, "LEADS_META_GRAPH_URL is not an http(s) address")
    query = urlencode({"access_token": access_token, "fields": GRAPH_FIELDS})
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        f"{base}/{quote(leadgen_id)}?{query}", headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(  # noqa: S310 (the scheme is checked above)
            request, timeout=GRAPH_TIMEOUT_SECONDS
        ) as response:
            raw = response.read(GRAPH_MAX_BYTES + 1)
        lead = json.loads(raw.decode("utf-8"), parse_constant=reject_constant)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPError and URLError are OSErrors; their text carries no token.
        logger.warning("Meta lead %s not read from the Graph API: %s", leadgen_id, exc)
        raise WebhookError(
            502, "the lead could not be read from the Graph API"
        ) from exc
    if len(raw) > GRAPH_MAX_BYTES or not isinstance(lead, dict):
        raise WebhookError(502, "the Graph API answered with no lead")
    if not isinstance(lead.get("field_data"), list):
        raise WebhookError(502, "the Graph API answered with no lead fields")
    return lead


class WhatsAppHook(SignedHook):
    """WhatsApp Cloud API: each inbound message is a lead (its sender's number)."""

    name = Hook.WHATSAPP

    def parse(self, payload: dict) -> list[Item]:
        items = []
        for change in changes(payload):
            value = as_dict(change.get("value"))
            names = {
                ident(contact.get("wa_id")): text(
                    as_dict(contact.get("profile")).get("name")
                )
                for contact in map(as_dict, as_list(value.get("contacts")))
            }
            for message in map(as_dict, as_list(value.get("messages"))):
                sender, message_id = (
                    ident(message.get("from")),
                    ident(message.get("id")),
                )
                if not sender or not message_id:
                    raise WebhookError(400, "a message without from or id")
                body = ""
                if message.get("type") == "text":
                    body = text(as_dict(message.get("text")).get("body"))
                data = {
                    "phone": "+" + sender if sender.isdigit() else sender,
                    "full_name": names.get(sender, ""),
                    "external_id": message_id,
                    "notes": f"WhatsApp: {body}" if body else "",
                    "received_at": timestamp(message.get("timestamp")),
                }
                items.append(Item(message_id, data, Source.WHATSAPP))
        # Delivery and read receipts (value.statuses) carry no lead.
        return items or [Item("", None, Source.WHATSAPP)]
