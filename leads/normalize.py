"""Lead contact details in their one comparable form.

Phones become E.164 (region from PHONENUMBER_DEFAULT_REGION), emails lower case. What
cannot be read is kept aside as ``invalid`` so that staff can see what was received.
"""

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from crm_project.phones import normalize_phone

# Meta's lead download prefixes values: "p:+56912345678", "l:123456789".
_META_PREFIX = re.compile(r"^[a-z]{1,2}:(?=\S)")
# Spreadsheet tricks: a leading apostrophe or "=" keeps a number as text.
_FORMULA_GUARD = re.compile(r'^(?:\'|="?)|"$')
# Line breaks and tabs become spaces; other control characters go.
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def strip_meta_prefix(value: str) -> str:
    return _META_PREFIX.sub("", value.strip())


def clean_text(value, *, limit: int = 255) -> str:
    """A cell or JSON value as single-line text, without formula-looking prefixes."""
    if value is None:
        return ""
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(value))).strip()
    # A value starting with = + - @ would run as a formula when the report is opened
    # in a spreadsheet: keep it, but inert.
    if text[:1] in ("=", "+", "-", "@") and not re.fullmatch(r"\+[\d\s().-]+", text):
        text = "'" + text
    return text[:limit]


def phone_text(value) -> str:
    """A phone cell as text: numeric cells lose their ".0", prefixes go."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = strip_meta_prefix(str(value))
    return _FORMULA_GUARD.sub("", text).strip()


def normalize_email(raw) -> str | None:
    text = strip_meta_prefix(str(raw or "")).strip().lower()
    # Lead.email holds 254 characters (RFC 5321); a longer one would not be stored.
    if not text or len(text) > 254:
        return None
    try:
        validate_email(text)
    except ValidationError:
        return None
    return text


@dataclass
class Contact:
    phone: str = ""
    email: str = ""
    invalid: list[str] = field(default_factory=list)

    @property
    def is_usable(self) -> bool:
        return bool(self.phone or self.email)

    @property
    def invalid_note(self) -> str:
        return "; ".join(self.invalid)[:255]


def normalize_contact(phone_raw, email_raw) -> Contact:
    """The valid identifiers of a lead, and a note of each invalid one."""
    contact = Contact()
    phone_in = phone_text(phone_raw)
    if phone_in:
        phone = normalize_phone(phone_in)
        if phone:
            contact.phone = phone
        else:
            contact.invalid.append(f"phone: {clean_text(phone_in, limit=60)}")
    email_in = str(email_raw or "").strip()
    if email_in:
        email = normalize_email(email_in)
        if email:
            contact.email = email
        else:
            contact.invalid.append(f"email: {clean_text(email_in, limit=100)}")
    return contact
