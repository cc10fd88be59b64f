"""HTTP endpoints of the leads app: the lead webhooks."""

import ipaddress
import logging

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_exempt

from .models import Lead, WebhookDelivery
from .services import create_or_merge_lead
from .webhooks import (
    HOOKS,
    BaseHook,
    Item,
    WebhookError,
    audit_headers,
    credentials_for,
    load_json,
    same_secret,
)

logger = logging.getLogger(__name__)

Outcome = WebhookDelivery.Outcome


def error(status: int, message: str, **headers) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers or None)


@csrf_exempt
def webhook(request, source: str):
    """``/api/leads/webhooks/<source>/``: a lead from Meta Lead Ads, Telegram,
    WhatsApp, a landing page or call tracking.

    POST: the body is checked in this order, and the first failure answers with a
    JSON ``{"error": ...}`` and writes nothing: no credentials configured (503), a
    body over LEADS_WEBHOOK_MAX_BYTES (413), a wrong or missing signature, secret
    token or API key (403), a body that is not a JSON object or lacks the source's
    required fields (400), a Meta lead the Graph API will not give (502), a contact
    with no valid phone or email (400).

    Accepted: one transaction stores each item the body carries (usually one) as a
    ``WebhookDelivery`` audit row (payload as received, headers without secrets,
    remote address, outcome, lead) together with its lead, through
    ``create_or_merge_lead(..., auto_assign=True)``; the answer is 200
    ``{"outcome": "created" | "merged" | "duplicate" | "ignored", "lead": id}``
    (for a batch, the first item's, plus ``"items"``). A repeated delivery (same hook
    and external id as an earlier one) creates and changes no lead, but is kept for
    audit as outcome "duplicate", pointing at the earlier delivery's lead: every
    accepted payload is on record, and a sender's retries show. A body with nothing
    to import (a Telegram message without a contact, WhatsApp read receipts) is
    kept as "ignored" and answered 200, so that the sender stops retrying.

    GET (Meta and WhatsApp only): the subscription handshake; the challenge is
    echoed as text/plain when ``hub.verify_token`` matches, else 403.
    """
    hook = HOOKS.get(source)
    if hook is None:
        return error(404, "unknown webhook")
    try:
        if request.method == "GET" and hook.answers_challenge:
            return challenge(request, hook)
        if request.method != "POST":
            allowed = "GET, POST" if hook.answers_challenge else "POST"
            return error(405, "method not allowed", Allow=allowed)
        credentials = credentials_for(hook.name)
        if not credentials.secret:
            return error(503, f"the {hook.name} webhook is not configured")
        body = read_body(request)
        hook.verify(request, body, credentials)
        payload = load_json(body)
        items = hook.parse(payload)
        for item in items:
            if item.data is not None or not item.fetch_id:
                continue
            if not earlier_delivery(hook.name, item.external_id):
                # Read from the network before the transaction, so no row waits on it.
                hook.complete(item, credentials)
        with transaction.atomic():
            deliveries = [
                store(hook, item, payload=payload, request=request) for item in items
            ]
    except WebhookError as exc:
        if exc.status >= 500:
            logger.warning("Webhook %s answered %s: %s", source, exc.status, exc)
        return error(exc.status, exc.message)
    first = deliveries[0]
    answer = {"outcome": first.outcome, "lead": first.lead_id}
    if len(deliveries) > 1:
        answer["items"] = [
            {"external_id": d.external_id, "outcome": d.outcome, "lead": d.lead_id}
            for d in deliveries
        ]
    return JsonResponse(answer)


def challenge(request, hook: BaseHook) -> HttpResponse:
    """Meta's subscription check: echo ``hub.challenge`` for the right token."""
    verify_token = credentials_for(hook.name).verify_token
    if not verify_token:
        return error(503, f"the {hook.name} webhook is not configured")
    if (
        request.GET.get("hub.mode") == "subscribe"
        and request.GET.get("hub.challenge")
        and same_secret(request.GET.get("hub.verify_token", ""), verify_token)
    ):
        return HttpResponse(
            request.GET["hub.challenge"], content_type="text/plain; charset=utf-8"
        )
    return error(403, "wrong verify token")


def read_body(request) -> bytes:
    """The raw body, refused (413) past LEADS_WEBHOOK_MAX_BYTES before it is read."""
    limit = settings.LEADS_WEBHOOK_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError as exc:
        raise WebhookError(400, "invalid Content-Length") from exc
    if declared > limit:
        raise WebhookError(413, f"the body is larger than {limit} bytes")
    try:
        body = request.read(limit + 1)
    except RawPostDataException:
        body = request.body
    if len(body) > limit:
        raise WebhookError(413, f"the body is larger than {limit} bytes")
    return body


def earlier_delivery(hook: str, external_id: str) -> WebhookDelivery | None:
    if not external_id:
        return None
    return (
        WebhookDelivery.objects.filter(hook=hook, external_id=external_id)
        .order_by("pk")
        .first()
    )


def lock_delivery(hook: str, external_id: str) -> None:
    """Serialise deliveries of one external id until the transaction ends, so that
    a sender's retry racing the original is seen as a duplicate. SQLite needs none:
    its IMMEDIATE transactions already take the write lock up front."""
    if external_id and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                [f"leads.webhook:{hook}:{external_id}"],
            )


def remote_addr(request) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")))
    except ValueError:
        return None


def fit_to_lead(data: dict) -> dict:
    """Text cut to the lead's column sizes (one short, for the formula guard's "'"),
    so that a long value is kept in part instead of failing on PostgreSQL."""
    fitted = dict(data)
    for name, value in data.items():
        try:
            size = Lead._meta.get_field(name).max_length
        except FieldDoesNotExist:
            continue
        if size and isinstance(value, str) and name not in ("phone", "email"):
            fitted[name] = value[: size - 1]
    return fitted


def store(hook: BaseHook, item: Item, *, payload: dict, request) -> WebhookDelivery:
    """Write one item's lead and audit row (inside the caller's transaction)."""
    lead = None
    lock_delivery(hook.name, item.external_id)
    earlier = earlier_delivery(hook.name, item.external_id)
    if earlier is not None:
        outcome, lead = Outcome.DUPLICATE, earlier.lead
    elif item.data is None:
        outcome = Outcome.IGNORED
    else:
        intake = create_or_merge_lead(
            fit_to_lead(item.data), source=item.source, auto_assign=True
        )
        if intake.lead is None:
            # Raised inside the transaction: the whole delivery is rolled back.
            raise WebhookError(400, str(intake.problem))
        lead = intake.lead
        outcome = Outcome.CREATED if intake.created else Outcome.MERGED
    return WebhookDelivery.objects.create(
        hook=hook.name,
        external_id=item.external_id,
        payload=payload,
        headers=audit_headers(request),
        remote_addr=remote_addr(request),
        outcome=outcome,
        lead=lead,
    )
