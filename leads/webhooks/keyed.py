"""Our own integrations (landing page forms, call tracking): an API key in
``X-Api-Key`` and a flat JSON body."""

from ..models import Source
from .base import (
    BaseHook,
    Credentials,
    Hook,
    Item,
    WebhookError,
    as_dict,
    first_text,
    ident,
    same_secret,
    text,
    timestamp,
)


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
