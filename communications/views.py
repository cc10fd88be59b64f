"""Public endpoints behind the links in messages: unsubscribe, open pixel, click;
and Twilio's delivery reports.

Each token is signed (communications.tracking); a bad or tampered one answers 400
with a plain explanation, never 500 and never a redirect to an unsigned target.
Twilio's reports are signed with the account's auth token (``X-Twilio-Signature``).
"""

import base64
import logging
import re

from django.conf import settings
from django.core import signing
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http import (
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
    UnreadablePostError,
)
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from twilio.request_validator import RequestValidator

from . import services, tracking
from .channels.twilio import status_callback_url
from .models import Message, OptOut

logger = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _bad_link(request, status=400):
    return render(
        request,
        "communications/link_error.html",
        {"title": _("This link is not valid")},
        status=status,
    )


# No CSRF token: the signed link is the credential, and RFC 8058 one-click
# unsubscribes are POSTed by mail clients that never saw our form.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe_view(request, token: str):
    try:
        key = tracking.read_unsubscribe_token(token)
    except signing.BadSignature:
        return _bad_link(request)
    message = (
        Message.objects.select_related("client", "lead")
        .filter(idempotency_key=key)
        .first()
    )
    if message is None or not (message.client_id or message.lead_id):
        return _bad_link(request, status=404)
    # The page speaks the language the message was written in.
    with translation.override(message.language):
        context = {"message": message, "kind": message.get_kind_display()}
        if request.method == "GET":
            return render(request, "communications/unsubscribe.html", context)
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        services.unsubscribe(
            message,
            source=(
                OptOut.Source.ONE_CLICK if one_click else OptOut.Source.UNSUBSCRIBE_LINK
            ),
        )
        return render(request, "communications/unsubscribed.html", context)


@never_cache
@require_GET
def open_pixel(request, token: str):
    try:
        message_id = tracking.read_open_token(token)
    except (signing.BadSignature, ValueError):
        return HttpResponseBadRequest(
            _("This tracking link is not valid."), content_type="text/plain"
        )
    services.mark_opened(message_id)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click_redirect(request, token: str):
    try:
        message_id, target = tracking.read_click_token(token)
    except (signing.BadSignature, ValueError, KeyError, TypeError):
        return _bad_link(request)
    services.mark_clicked(message_id)
    return HttpResponseRedirect(target)


# A status callback is a few hundred bytes; anything near this is not from Twilio.
TWILIO_STATUS_MAX_BYTES = 16 * 1024
_TWILIO_SID = re.compile(r"[A-Za-z0-9]{2,64}")
_ERROR_CODE = re.compile(r"[0-9]{1,10}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _json_error(status: int, message: str, **headers) -> JsonResponse:
    return JsonResponse({"error": message}, status=status, headers=headers or None)


@csrf_exempt  # Twilio signs its requests instead (X-Twilio-Signature)
@never_cache
def twilio_status(request):
    """``POST /c/twilio/status/``: Twilio's status callback for an SMS or WhatsApp
    message (the Twilio backend asks for it on every message it sends).

    Checked in this order; the first failure answers a JSON ``{"error": ...}`` and
    writes nothing: not POST (405), no TWILIO_AUTH_TOKEN (503), a body over
    TWILIO_STATUS_MAX_BYTES (413), a body that cannot be read (400), a missing or
    wrong ``X-Twilio-Signature`` (403), no valid MessageSid or MessageStatus (400).
    Then ``services.record_twilio_status`` moves the message (delivered, failed or
    nothing) and the answer is 200 ``{"outcome": ...}``, also for a MessageSid no
    message has: Twilio would retry an error, and a retry would find nothing either.

    The signature covers the URL Twilio requested, so it is checked against
    ``request.build_absolute_uri()``: behind a proxy that terminates TLS, Django
    must see the original scheme and host (SECURE_PROXY_SSL_HEADER, set in
    production for ``X-Forwarded-Proto``, and a proxy that passes ``Host`` on, or
    USE_X_FORWARDED_HOST). Failing that, it is checked against the callback URL the
    backend gave Twilio (COMMUNICATIONS_PUBLIC_URL + this path), which is the URL
    Twilio signs; either way only the auth token's holder can sign.
    """
    if request.method != "POST":
        return _json_error(405, "method not allowed", Allow="POST")
    token = settings.TWILIO_AUTH_TOKEN
    if not token:
        # An empty key would make every signature computable by anyone.
        return _json_error(503, "Twilio is not configured")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _json_error(400, "invalid Content-Length")
    if declared > TWILIO_STATUS_MAX_BYTES:
        return _json_error(
            413, f"the body is larger than {TWILIO_STATUS_MAX_BYTES} bytes"
        )
    try:
        params = request.POST
    except RequestDataTooBig:
        return _json_error(413, "the body is too large")
    except (SuspiciousOperation, UnreadablePostError):
        return _json_error(400, "the body could not be read")

    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not _twilio_signed(request, params, signature, token):
        return _json_error(403, "invalid or missing X-Twilio-Signature")

    sid = params.get("MessageSid", "").strip()
    status = params.get("MessageStatus", "").strip()
    if not sid or not status:
        return _json_error(400, "MessageSid and MessageStatus are required")
    if not _TWILIO_SID.fullmatch(sid):
        return _json_error(400, "invalid MessageSid")
    error_code = params.get("ErrorCode", "").strip()
    error_code = error_code if _ERROR_CODE.fullmatch(error_code) else ""
    error_message = _CONTROL.sub(" ", params.get("ErrorMessage", "")).strip()[:500]
    try:
        outcome = services.record_twilio_status(
            sid, status[:40], error_code=error_code, error_message=error_message
        )
    except DatabaseError:
        logger.exception("Twilio status callback for %s not recorded", sid)
        return _json_error(503, "temporarily unavailable")
    return JsonResponse({"outcome": outcome})


def _twilio_signed(request, params, signature: str, token: str) -> bool:
    validator = RequestValidator(token)
    urls = []
    try:
        urls.append(request.build_absolute_uri())
    except SuspiciousOperation:  # DisallowedHost
        pass
    configured = status_callback_url()
    if configured:
        query = request.META.get("QUERY_STRING", "")
        urls.append(f"{configured}?{query}" if query else configured)
    return any(validator.validate(url, params, signature) for url in urls)
