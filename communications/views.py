"""Public endpoints behind the links in messages: unsubscribe, open pixel, click.

Each token is signed (communications.tracking); a bad or tampered one answers 400
with a plain explanation, never 500 and never a redirect to an unsigned target.
"""

import base64

from django.core import signing
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import services, tracking
from .models import Message, OptOut

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
