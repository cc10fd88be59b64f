"""Import records: the outcome of each row, the per-import counts, the report's
columns, and the normalisation of cells (text, phones, emails, dates) that turns a
file's row into a Record. No database work here.
"""

import csv
import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, fields

import phonenumbers
from django.conf import settings
from django.utils import timezone

from crm_project.phones import normalize_phone

from ..normalize import clean_text, normalize_email, strip_meta_prefix
from ..services import FILLABLE_FIELDS

CREATED = "created"
DUPLICATE_IN_FILE = "duplicate_in_file"
DUPLICATE_EXISTING = "duplicate_existing"
BAD = "bad"
REPORT_HEADER = ["row", "outcome", "lead_id", "matched_lead_id", "message"]

_TEXT_FIELDS = (*FILLABLE_FIELDS, "notes")


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    duplicate_in_file: int = 0
    duplicate_existing: int = 0
    bad: int = 0

    def plus(self, other: "Counts") -> "Counts":
        return Counts(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in fields(self)
            }
        )

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Record:
    __slots__ = (
        "row",
        "values",
        "phone",
        "email",
        "invalid",
        "external_id",
        "source",
        "received_at",
        "outcome",
        "lead_id",
        "matched",
        "message",
        "ref",
        "line",
    )

    def __init__(self, row: int):
        self.row = row
        self.values: dict = {}
        self.phone = self.email = self.invalid = self.external_id = ""
        self.source = ""
        self.received_at = None
        self.outcome = ""
        self.lead_id = self.matched = None
        self.message = ""
        self.ref = None
        # Its COPY line for the staging table, made by the parsing thread; cleared
        # when a later duplicate fills its blanks.
        self.line: str | None = None

    def keys(self) -> list[str]:
        keys = []
        if self.phone:
            keys.append("p" + self.phone)
        if self.email:
            keys.append("e" + self.email)
        if self.external_id:
            keys.append("x" + self.source + "\x1f" + self.external_id)
        return keys

    def resolved_id(self) -> int | None:
        return self.lead_id or self.matched

    def report_row(self) -> tuple:
        message = self.message
        return (
            self.row,
            self.outcome,
            self.lead_id or "",
            self.matched or "",
            clean_text(message, limit=1000) if message else "",
        )


# Phone parsing with phonenumbers is the hot spot (~120 µs a number); exports repeat
# numbers often, so results are cached.
@functools.lru_cache(maxsize=200_000)
def _phone(text: str, region: str) -> str | None:
    return normalize_phone(text, region)


_NANPA_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
_PHONE_PUNCTUATION = str.maketrans("", "", " ()-./\u00a0")
# For North American numbers (+1) the validity rules of phonenumbers' metadata are
# decided by the area code and exchange (NPA-NXX, the first 6 national digits):
# the line number is any 4 digits. So validity is computed once per NPA-NXX.
_nanpa_valid: dict[str, bool] = {}


def fast_phone(text: str, region: str) -> str | None:
    """normalize_phone(text, region), fast for plain North American numbers."""
    compact = text.translate(_PHONE_PUNCTUATION)
    plus = compact[:1] == "+"
    digits = compact[1:] if plus else compact
    national = None
    if digits.isascii() and digits.isdigit():
        if (
            len(digits) == 11
            and digits[0] == "1"
            and (plus or region in _NANPA_REGIONS)
        ):
            national = digits[1:]
        elif len(digits) == 10 and not plus and region in _NANPA_REGIONS:
            national = digits
    if national is None or national[0] in "01":
        return _phone(text, region)
    key = national[:6]
    valid = _nanpa_valid.get(key)
    if valid is None:
        valid = _nanpa_valid[key] = normalize_phone("+1" + national) is not None
    return "+1" + national if valid else None


@functools.lru_cache(maxsize=200_000)
def _email(text: str) -> str | None:
    return normalize_email(text)


def _clean(text: str, limit: int) -> str:
    """clean_text(text, limit=limit), without its work for already clean text."""
    if (
        len(text) <= limit
        and text.isprintable()
        and text[:1] not in ("=", "+", "@", " ")
        and text[-1:] != " "
    ):
        return text
    return clean_text(text, limit=limit)


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


_DATE_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y/%m/%d %H:%M:%S",
)


def parse_received(value) -> dt.datetime | None:
    """A created-time cell as an aware datetime, or None when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        text = strip_meta_prefix(str(value)).strip()
        parsed = None
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            formats = _DATE_FORMATS
            if not settings.LANGUAGE_CODE.startswith("es"):
                formats = (*_DATE_FORMATS[3:6], *_DATE_FORMATS[:3], _DATE_FORMATS[6])
            for pattern in formats:
                try:
                    parsed = dt.datetime.strptime(text, pattern)  # noqa: DTZ007
                    break
                except ValueError:
                    continue
        if parsed is None:
            return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def iter_report(path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)
