"""What every lead webhook shares: errors, credentials, reading untrusted JSON."""

import datetime as dt
import hmac
import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from ..models import WebhookSecret

Hook = WebhookSecret.Hook

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


def reject_constant(raw: str):
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
            parse_constant=reject_constant,
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


class BaseHook(ABC):
    """One webhook source: how it authenticates and what its payload holds."""

    name: str
    # Meta-style subscription handshake (GET ?hub.mode=subscribe...).
    answers_challenge = False

    @abstractmethod
    def verify(self, request, body: bytes, credentials: Credentials) -> None:
        """Raise a WebhookError unless the request carries the source's proof."""

    @abstractmethod
    def parse(self, payload: dict) -> list[Item]:
        """The leads (or nothing-to-import items) in a verified payload."""

    def complete(self, item: Item, credentials: Credentials) -> None:  # noqa: B027
        """Fill ``item.data`` from elsewhere (the Graph API) before anything is
        written. Most sources send everything in the payload: nothing to do."""
