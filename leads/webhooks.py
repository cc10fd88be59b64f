"""Lead webhooks: each source's credentials, verification and payload parsing.

Nothing here writes: ``leads.views.webhook`` reads the body, asks the source's
``Hook`` to verify and parse it into ``Item``s (one lead each, or nothing to import),
and stores them through ``leads.services.create_or_merge_lead``. Every problem is a
``WebhookError`` carrying the HTTP status to answer with.

Credentials are never in code: an active ``WebhookSecret`` row (the admin) wins over
``settings.LEADS_WEBHOOKS`` (the environment), field by field where the row is blank.
"""

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from django.conf import settings
from django.utils import timezone

from .models import Source, WebhookSecret

logger = logging.getLogger(__name__)

Hook = WebhookSecret.Hook

GRAPH_TIMEOUT_SECONDS = 10
GRAPH_MAX_BYTES = 1024 * 1024
GRAPH_FIELDS = "created_time,field_data,platform,form_id,ad_id"
# Real payloads nest a few levels; a deeper one is hostile, and would recurse later.
MAX_JSON_DEPTH = 32
MAX_ID_LENGTH = 255
# Headers kept on the audit row. Never the ones that carry a secret or a signature.
AUDIT_HEADERS = ("Content-Type", "Content-Length", "User-Agent", "X-Forwarded-For")


class WebhookError(Exception):
    """A request the hook refuses; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Credentials:
    secret: str = ""
    verify_token: str = ""
    access_token: str = ""


@dataclass
class Item:
    """One thing a delivery carries: a lead's raw ``data``, or None (nothing to
    import: kept for audit as "ignored"). ``fetch_id``: a Meta lead whose fields
    must still be read from the Graph API."""

    external_id: str
    data: dict | None
    source: str
    fetch_id: str = ""
    extra: dict = field(default_factory=dict)


def credentials_for(hook: str) -> Credentials:
    configured = getattr(settings, "LEADS_WEBHOOKS", {}) or {}
    values = configured.get(hook) or {}
    if not isinstance(values, dict):
        values = {}
    row = WebhookSecret.objects.filter(hook=hook, is_active=True).first()
    return Credentials(
        secret=(row.secret if row else "") or values.get("secret") or "",
        verify_token=(row.verify_token if row else "")
        or values.get("verify_token")
        or "",
        access_token=values.get("access_token") or "",
    )


# --- reading values from untrusted JSON ---------------------------------------------


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison that never raises on odd (non-ASCII) input."""
    if not expected:
        return False
    return hmac.compare_digest(
        (given or "").encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def text(value) -> str:
    """A scalar as text; objects, lists, booleans and nulls are no text."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float):
        return str(value)
    return ""


def ident(value) -> str:
    """An id (a string or an integer) as text, or ""."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)[:MAX_ID_LENGTH]
    if isinstance(value, str):
        return value.strip().replace("\x00", "")[:MAX_ID_LENGTH]
    return ""


def first_text(payload: dict, *names: str) -> str:
    for name in names:
        value = text(payload.get(name))
        if value:
            return value
    return ""


def timestamp(value) -> dt.datetime | None:
    """A Unix time or an ISO 8601 time, when it is a plausible moment (not future)."""
    moment = None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
        elif isinstance(value, str) and value.strip():
            raw = value.strip()
            if raw.isdigit():
                moment = dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)
            else:
                moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    now = timezone.now()
    if not (dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= moment <= now):
        return None
    return moment


def _finite_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(raw: str):
    raise ValueError(f"{raw} is not JSON")


def _depth(value) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def _storable(value):
    """The payload as every database stores it: no NUL, no lone surrogate."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def load_json(body: bytes) -> dict:
    """The body as a JSON object, ready to store; WebhookError(400) otherwise."""
    try:
        payload = json.loads(
            body.decode("utf-8"),
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WebhookError(400, "the body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise WebhookError(400, "the body must be a JSON object")
    if _depth(payload) > MAX_JSON_DEPTH:
        raise WebhookError(400, "the JSON body is nested too deeply")
    return _storable(payload)


def audit_headers(request) -> dict:
    kept = {}
    for name in AUDIT_HEADERS:
        value = request.headers.get(name)
        if value:
            kept[name] = _storable(value)[:255]
    return kept


# --- the sources ----------------------------------------------------------------------


class BaseHook:
    name: str
    # Meta-style subscription handshake (GET ?hub.mode=subscribe...).
    answers_challenge = False

    def verify(self, request, body: bytes, credentials: Credentials) -> None:
        raise NotImplementedError

    def parse(self, payload: dict) -> list[Item]:
        raise NotImplementedError

    def complete(self, item: Item, credentials: Credentials) -> None:
        """Fill ``item.data`` from elsewhere (the Graph API) before anything is
        written."""


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
        lead = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
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


class TelegramHook(BaseHook):
    """A Telegram bot's updates; a lead is a message with a shared contact."""

    name = Hook.TELEGRAM

    def verify(self, request, body: bytes, credentials: Credentials) -> None:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not same_secret(given, credentials.secret):
            raise WebhookError(
                403, "invalid or missing X-Telegram-Bot-Api-Secret-Token"
            )

    def parse(self, payload: dict) -> list[Item]:
        message = as_dict(payload.get("message"))
        external_id = ident(payload.get("update_id"))
        if not external_id and ident(message.get("message_id")):
            chat = ident(as_dict(message.get("chat")).get("id"))
            external_id = f"{chat}:{ident(message.get('message_id'))}"
        if not external_id:
            raise WebhookError(400, "missing update_id")
        contact = as_dict(message.get("contact"))
        if not contact:
            return [Item(external_id, None, Source.TELEGRAM)]
        phone = text(contact.get("phone_number"))
        if phone[:1].isdigit():
            phone = "+" + phone  # Telegram sends international numbers without "+"
        sender = as_dict(message.get("from"))
        note = "Telegram"
        if ident(contact.get("user_id")):
            note += f" user {ident(contact.get('user_id'))}"
        if text(sender.get("username")):
            note += f", shared by @{text(sender.get('username'))}"
        data = {
            "phone": phone,
            "full_name": " ".join(
                filter(
                    None, [text(contact.get(n)) for n in ("first_name", "last_name")]
                )
            ),
            "external_id": external_id,
            "notes": note,
            "received_at": timestamp(message.get("date")),
        }
        return [Item(external_id, data, Source.TELEGRAM)]


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


class ApiKeyHook(BaseHook):
    """Our own integrations: ``X-Api-Key`` with the source's key, a flat JSON body."""

    def verify(self, request, body: bytes, credentials: Credentials) -> None:
        if not same_secret(request.headers.get("X-Api-Key", ""), credentials.secret):
            raise WebhookError(403, "invalid or missing X-Api-Key")

    def common(self, payload: dict) -> dict:
        utm = as_dict(payload.get("utm"))
        data = {
            name: first_text(payload, name) or text(utm.get(name.removeprefix("utm_")))
            for name in (
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
            )
        }
        data.update(
            email=first_text(payload, "email"),
            campaign_name=first_text(payload, "campaign", "campaign_name"),
            ad_name=first_text(payload, "ad", "ad_name"),
        )
        return data


class LandingPageHook(ApiKeyHook):
    name = Hook.LANDING_PAGE

    def parse(self, payload: dict) -> list[Item]:
        external_id = ident(payload.get("external_id")) or ident(
            payload.get("submission_id")
        )
        full_name = first_text(payload, "full_name", "name") or " ".join(
            filter(
                None,
                [first_text(payload, "first_name"), text(payload.get("last_name"))],
            )
        )
        data = {
            **self.common(payload),
            "full_name": full_name,
            "phone": first_text(payload, "phone", "phone_number"),
            "form_name": first_text(payload, "form", "form_name"),
            "external_id": external_id,
            "notes": first_text(payload, "notes", "message", "comment"),
            "received_at": timestamp(payload.get("submitted_at")),
        }
        return [Item(external_id, data, Source.LANDING_PAGE)]


class CallTrackingHook(ApiKeyHook):
    name = Hook.CALL_TRACKING

    def parse(self, payload: dict) -> list[Item]:
        external_id = ident(payload.get("call_id")) or ident(payload.get("id"))
        details = [
            f"{label}: {first_text(payload, *names)}"
            for label, names in (
                ("called", ("tracking_number", "called_number")),
                ("duration (s)", ("duration",)),
                ("status", ("status", "call_status")),
                ("recording", ("recording_url",)),
            )
            if first_text(payload, *names)
        ]
        notes = "; ".join(filter(None, [first_text(payload, "notes"), *details]))
        data = {
            **self.common(payload),
            "full_name": first_text(payload, "name", "caller_name", "full_name"),
            "phone": first_text(payload, "caller_number", "phone", "caller_id"),
            "external_id": external_id,
            "notes": notes,
            "received_at": timestamp(payload.get("started_at")),
        }
        return [Item(external_id, data, Source.CALL_TRACKING)]


HOOKS: dict[str, BaseHook] = {
    hook.name: hook
    for hook in (
        MetaHook(),
        TelegramHook(),
        WhatsAppHook(),
        LandingPageHook(),
        CallTrackingHook(),
    )
}
