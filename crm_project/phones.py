"""Phones are stored in E.164 (``+14155550123``) so that equal numbers compare equal."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


def normalize_phone(raw: str, region: str | None = None) -> str | None:
    """Return ``raw`` in E.164, or None when it is not a valid number.

    A number without a country code is read in ``PHONENUMBER_DEFAULT_REGION``.
    """
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region or settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_phone(raw: str) -> str:
    """Form helper: the E.164 form of ``raw``, or a ValidationError saying why not."""
    if not (raw or "").strip():
        return ""
    phone = normalize_phone(raw)
    if phone is None:
        raise ValidationError(
            _("“%(value)s” is not a valid phone number."),
            code="invalid_phone",
            params={"value": raw},
        )
    return phone
