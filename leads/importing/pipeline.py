"""The import pipeline: rows → normalised records → de-duplication (within the file
and against the database) → INSERT ... ON CONFLICT DO NOTHING in chunks, one
transaction each.

Created rows bypass Lead.save() and its post_save signal, so this module writes the
creation history rows and round-robin assignment itself, in bulk, with the same
rules as leads.services.
"""

import contextlib
import csv
import datetime as dt
import functools
import io
import queue
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields

import phonenumbers
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm_project.phones import normalize_phone

from ..models import Lead, LeadStatus, LeadStatusHistory, RoundRobinCursor
from ..normalize import clean_text, normalize_email, phone_text, strip_meta_prefix
from ..services import FILLABLE_FIELDS, active_salespeople
from .columns import GENERIC_SOURCES, row_source

CHUNK_SIZE = 2000
_SWITCH_INTERVAL = 0.0002  # seconds, while the parsing thread runs
CREATED = "created"
DUPLICATE_IN_FILE = "duplicate_in_file"
DUPLICATE_EXISTING = "duplicate_existing"
BAD = "bad"
REPORT_HEADER = ["row", "outcome", "lead_id", "matched_lead_id", "message"]

_TEXT_FIELDS = (*FILLABLE_FIELDS, "notes")
# What the staging table holds of a row: the values that come from the file. The
# rest (status, the import, timestamps, the deadline) are one per chunk, added by
# the INSERT ... SELECT from the staging table.
_STAGE_COLUMNS = (
    *_TEXT_FIELDS,  # the fillable fields and notes
    "phone",
    "email",
    "invalid_contact",
    "source",
    "external_id",
    "received_at",
)
_INSERT_COLUMNS = (
    *_STAGE_COLUMNS,
    "first_contact_due_at",
    "status",
    "lost_reason",
    "import_log_id",
    "created_at",
    "updated_at",
)


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


class Pipeline:
    """One pass over a file's rows. ``dry_run`` computes outcomes without writing;
    ``report``, a text file, gets a CSV row of REPORT_HEADER for each row."""

    def __init__(
        self,
        *,
        indexes: dict[str, int],
        source: str,
        dry_run: bool,
        log=None,
        assign: str = "none",
        by=None,
        report=None,
        sample_rows: int = 0,
        on_chunk: Callable[[Counts], None] | None = None,
    ):
        self.indexes = indexes
        self.source = source
        self.dry_run = dry_run
        self.log = log
        self.assign = assign
        self.by_id = getattr(by, "pk", None)
        self.report = report
        self.sample_rows = sample_rows
        self.sample: list[dict] = []
        self.on_chunk = on_chunk
        self.counts = Counts()
        self.region = settings.PHONENUMBER_DEFAULT_REGION
        # Keys (phone, email, external id) seen in earlier chunks → their lead id
        # (0 in a dry run for a lead that would be created).
        self.file_keys: dict[str, int] = {}
        self.chunk_keys: dict[str, Record] = {}
        self.fills: dict[int, dict] = defaultdict(dict)
        # PostgreSQL imports send rows through a staging table; their lines are
        # made as the rows are parsed, off the writing thread.
        self.staged = not dry_run and connection.vendor == "postgresql"
        self.salespeople: list[int] = []
        if assign == "round_robin" and not dry_run:
            self.salespeople = list(active_salespeople().values_list("pk", flat=True))

    # --- rows -------------------------------------------------------------------

    def run(self, rows: Iterable[list], *, first_row: int = 2) -> Counts:
        writing = not self.dry_run
        with _relaxed_commits(writing), _staging(writing):
            for chunk in self._parsed_chunks(rows, first_row):
                for rec in chunk:
                    if not rec.outcome:
                        self._dedupe_in_file(rec)
                self._flush(chunk)
        return self.counts

    def _parsed_chunks(self, rows: Iterable[list], first_row: int):
        """Chunks of parsed records, read and normalised by a helper thread.

        Parsing (phones, emails, text) needs no database, and psycopg2 releases
        the GIL while PostgreSQL works, so the next chunk is parsed while this one
        is written. The thread stops when the caller stops or fails.
        """
        chunks: queue.Queue = queue.Queue(maxsize=3)
        stop = threading.Event()
        language = translation.get_language()

        def produce() -> None:
            try:
                with translation.override(language):
                    chunk: list[Record] = []
                    for number, row in enumerate(rows, start=first_row):
                        if stop.is_set():
                            return
                        chunk.append(self._parse(number, row))
                        if len(chunk) >= CHUNK_SIZE:
                            chunks.put(chunk)
                            chunk = []
                    if chunk:
                        chunks.put(chunk)
                chunks.put(None)
            except BaseException as exc:  # handed to the caller's thread
                chunks.put(exc)

        thread = threading.Thread(target=produce, name="lead-import-parse", daemon=True)
        # Both threads need the GIL. Each time PostgreSQL answers, this thread may
        # wait for the parser to let it go, up to the switch interval (5 ms by
        # default) a round trip: a short one while both run saves about a tenth
        # of an import's time (bench_import).
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, _SWITCH_INTERVAL))
        thread.start()
        try:
            while True:
                item = chunks.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # a producer blocked on a full queue
                with contextlib.suppress(queue.Empty):
                    chunks.get_nowait()
                thread.join(timeout=0.05)
            sys.setswitchinterval(switch_interval)

    def _cell(self, row: list, field: str):
        index = self.indexes.get(field)
        if index is None or index >= len(row):
            return None
        return row[index]

    def _parse(self, number: int, row: list) -> Record:
        rec = Record(number)
        cell = self._cell
        values = rec.values
        for name in _TEXT_FIELDS:
            if name in self.indexes:
                text = cell_text(cell(row, name))
                if text:
                    values[name] = _clean(text, 5000 if name == "notes" else 255)
        if "full_name" not in values and (
            "first_name" in self.indexes or "last_name" in self.indexes
        ):
            joined = " ".join(
                part
                for part in (
                    cell_text(cell(row, "first_name")).strip(),
                    cell_text(cell(row, "last_name")).strip(),
                )
                if part
            )
            if joined:
                values["full_name"] = clean_text(joined, limit=200)
        if values.get("full_name"):
            values["full_name"] = values["full_name"][:200]
        rec.source = self.source
        if self.source in GENERIC_SOURCES:
            rec.source = (
                row_source(cell(row, "source"))
                or row_source(cell(row, "platform"))
                or self.source
            )
        external = cell_text(cell(row, "external_id"))
        if external:
            rec.external_id = clean_text(strip_meta_prefix(external))
        rec.received_at = parse_received(cell(row, "received_at"))

        invalid = []
        phone_in = phone_text(cell(row, "phone"))
        if phone_in:
            phone = fast_phone(phone_in, self.region)
            if phone:
                rec.phone = phone
            else:
                invalid.append(f"phone: {clean_text(phone_in, limit=60)}")
        email_in = cell_text(cell(row, "email")).strip()
        if email_in:
            email = _email(email_in)
            if email:
                rec.email = email
            else:
                invalid.append(f"email: {clean_text(email_in, limit=100)}")
        rec.invalid = "; ".join(invalid)[:255]
        if not (rec.phone or rec.email):
            rec.outcome = BAD
            rec.message = _("no valid phone or email")
            if rec.invalid:
                rec.message += f" ({rec.invalid})"
            return rec
        if rec.invalid:
            rec.message = _("imported without the invalid %(value)s") % {
                "value": rec.invalid
            }
        if self.staged:
            rec.line = _stage_line(rec)
        return rec

    def _dedupe_in_file(self, rec: Record) -> None:
        keys = rec.keys()
        ref = None
        for key in keys:
            ref = self.chunk_keys.get(key)
            if ref is None:
                ref = self.file_keys.get(key)
            if ref is not None:
                break
        if ref is None:
            for key in keys:
                self.chunk_keys[key] = rec
            return
        rec.outcome = DUPLICATE_IN_FILE
        rec.ref = ref
        if isinstance(ref, Record):
            # The first row is not written yet: fill its blanks before the insert.
            ref.line = None
            for name, value in rec.values.items():
                if name in FILLABLE_FIELDS and not ref.values.get(name):
                    ref.values[name] = value
            for name, prefix in (("phone", "p"), ("email", "e")):
                value = getattr(rec, name)
                if value and not getattr(ref, name) and not self._known(prefix + value):
                    setattr(ref, name, value)
                    self.chunk_keys[prefix + value] = ref
        else:
            wanted = self.fills[ref]
            for name, value in rec.values.items():
                if name in FILLABLE_FIELDS:
                    wanted.setdefault(name, value)
            for name, prefix in (("phone", "p"), ("email", "e")):
                value = getattr(rec, name)
                if value and not self._known(prefix + value):
                    wanted.setdefault(name, value)
                    self.file_keys[prefix + value] = ref

    def _known(self, key: str) -> bool:
        return key in self.chunk_keys or key in self.file_keys

    # --- chunks -----------------------------------------------------------------

    def _flush(self, chunk: list[Record]) -> None:
        pending = [rec for rec in chunk if not rec.outcome]
        parse_fills = {lead_id: dict(wanted) for lead_id, wanted in self.fills.items()}
        for attempt in range(5):
            for rec in pending:
                rec.outcome, rec.lead_id, rec.matched = "", None, None
            fills = defaultdict(dict, {k: dict(v) for k, v in parse_fills.items()})
            try:
                if self.dry_run:
                    self._write_chunk(chunk, pending, fills)
                else:
                    with transaction.atomic():
                        self._write_chunk(chunk, pending, fills)
                break
            except OperationalError as exc:
                # Two imports inserting overlapping rows in different orders can
                # deadlock on the unique indexes; PostgreSQL aborts one: redo it.
                if "deadlock" not in str(exc).lower() or attempt == 4:
                    raise
        self.fills = defaultdict(dict)
        for key, rec in self.chunk_keys.items():
            self.file_keys[key] = rec.resolved_id() or 0
        self.chunk_keys = {}
        if self.report is not None:
            # One write a chunk: the report file's writes are slow one by one.
            buffer = io.StringIO()
            csv.writer(buffer).writerows([rec.report_row() for rec in chunk])
            self.report.write(buffer.getvalue())
        for rec in chunk[: max(0, self.sample_rows - len(self.sample))]:
            self.sample.append(
                {
                    "row": rec.row,
                    "full_name": rec.values.get("full_name", ""),
                    "phone": rec.phone,
                    "email": rec.email,
                    "source": rec.source,
                    "outcome": rec.outcome,
                    "problem": rec.message,
                }
            )
        if self.on_chunk is not None:
            self.on_chunk(self.counts)

    def _write_chunk(self, chunk, pending, fills) -> None:
        now = timezone.now()
        if self.dry_run:
            for rec in self._match_existing(pending, fills):
                rec.outcome = CREATED
        else:
            # Insert first: the unique indexes find the duplicates of existing leads
            # as the rows go in (ON CONFLICT DO NOTHING), so only the few rows left
            # out are looked up, for the lead they matched. A row left out that
            # matches nothing lost to a writer that has since rolled back: retry.
            rest = pending
            for _attempt in range(3):
                rest = self._match_existing(self._insert(rest, now), fills)
                if not rest:
                    break
            for rec in rest:
                rec.outcome = BAD
                rec.message = _("kept conflicting with leads written at the same time")
        for rec in chunk:
            if rec.outcome == DUPLICATE_IN_FILE:
                ref = rec.ref
                rec.matched = ref.resolved_id() if isinstance(ref, Record) else ref
                rec.matched = rec.matched or None
        chunk_counts = Counts(rows=len(chunk))
        for rec in chunk:
            setattr(
                chunk_counts,
                rec.outcome,
                getattr(chunk_counts, rec.outcome) + 1,
            )
        total = self.counts.plus(chunk_counts)
        if not self.dry_run:
            created = [rec.lead_id for rec in chunk if rec.outcome == CREATED]
            if created:
                self._after_create(created, now)
            self._apply_fills(fills, now)
            if self.log is not None:
                type(self.log).objects.filter(pk=self.log.pk).update(
                    processed_rows=total.rows,
                    created_count=total.created,
                    duplicate_in_file_count=total.duplicate_in_file,
                    duplicate_existing_count=total.duplicate_existing,
                    bad_row_count=total.bad,
                    updated_at=now,
                )
        self.counts = total

    def _match_existing(self, recs: list[Record], fills) -> list[Record]:
        """Mark the records that match a lead in the database; return the rest."""
        if not recs:
            return []
        columns = ("id", "phone", "email", "source", "external_id", *FILLABLE_FIELDS)
        found: dict[int, dict] = {}
        phones = [rec.phone for rec in recs if rec.phone]
        emails = [rec.email for rec in recs if rec.email]
        if connection.vendor == "postgresql":
            self._match_existing_pg(recs, columns, found)
            phones = emails = []
        if phones:
            for lead in Lead.objects.filter(~Q(phone=""), phone__in=phones).values(
                *columns
            ):
                found[lead["id"]] = lead
        if emails:
            query = (
                Lead.objects.annotate(email_lower=Lower("email"))
                .filter(~Q(email=""), email_lower__in=emails)
                .values(*columns)
            )
            for lead in query:
                found[lead["id"]] = lead
        by_source = defaultdict(list)
        for rec in recs:
            if rec.external_id:
                by_source[rec.source].append(rec.external_id)
        if connection.vendor == "postgresql":
            by_source = {}
        for source, ids in by_source.items():
            query = Lead.objects.filter(
                ~Q(external_id=""), source=source, external_id__in=ids
            ).values(*columns)
            for lead in query:
                found[lead["id"]] = lead
        if not found:
            return list(recs)
        by_key: dict[str, int] = {}
        for lead_id in sorted(found, reverse=True):  # the oldest lead wins
            lead = found[lead_id]
            if lead["phone"]:
                by_key["p" + lead["phone"]] = lead_id
            if lead["email"]:
                by_key["e" + lead["email"].lower()] = lead_id
            if lead["external_id"]:
                by_key["x" + lead["source"] + "\x1f" + lead["external_id"]] = lead_id
        rest = []
        for rec in recs:
            matches = [by_key[key] for key in rec.keys() if key in by_key]
            if not matches:
                rest.append(rec)
                continue
            lead_id = min(matches)
            rec.outcome = DUPLICATE_EXISTING
            rec.matched = lead_id
            wanted = fills[lead_id]
            for name, value in rec.values.items():
                if name in FILLABLE_FIELDS:
                    wanted.setdefault(name, value)
            for name in ("phone", "email"):
                if getattr(rec, name):
                    wanted.setdefault(name, getattr(rec, name))
        return rest

    @staticmethod
    def _match_existing_pg(recs: list[Record], columns, found: dict) -> None:
        """The same three lookups as the ORM path, with array parameters (cheaper
        to build than 2,000-item IN lists); each condition matches its index."""
        qn = connection.ops.quote_name
        select = (
            f"SELECT {', '.join(qn(c) for c in columns)} "  # noqa: S608
            f"FROM {qn(Lead._meta.db_table)} WHERE "
        )
        phones = [rec.phone for rec in recs if rec.phone]
        emails = [rec.email for rec in recs if rec.email]
        sources = [rec.source for rec in recs if rec.external_id]
        externals = [rec.external_id for rec in recs if rec.external_id]
        queries = []
        if phones:
            queries.append(("phone <> '' AND phone = ANY(%s)", [phones]))
        if emails:
            queries.append(("email <> '' AND LOWER(email) = ANY(%s)", [emails]))
        if externals:
            queries.append(
                (
                    "external_id <> '' AND (source, external_id) IN "
                    "(SELECT * FROM unnest(%s::varchar[], %s::varchar[]))",
                    [sources, externals],
                )
            )
        with connection.cursor() as cursor:
            for condition, params in queries:
                cursor.execute(select + condition, params)
                for row in cursor.fetchall():
                    found[row[0]] = dict(zip(columns, row, strict=True))

    # --- writing ----------------------------------------------------------------

    def _insert(self, recs: list[Record], now: dt.datetime) -> list[Record]:
        """INSERT the records; return those that lost to a concurrent writer."""
        if not recs:
            return []
        log_id = self.log.pk if self.log is not None else None
        hours = dt.timedelta(hours=settings.LEADS_FIRST_CONTACT_HOURS)
        if self.staged:
            returned = _insert_staged(
                [rec.line or _stage_line(rec) for rec in recs],
                log_id=log_id,
                by_id=self.by_id,
                now=now,
                hours=hours,
            )
        else:
            returned = _insert_values(_value_rows(recs, now, hours, log_id))
        by_key = {}
        for rec in recs:
            by_key[rec.phone or "e" + rec.email] = rec
        for lead_id, phone, email in returned:
            rec = by_key[phone or "e" + email]
            rec.outcome = CREATED
            rec.lead_id = lead_id
        return [rec for rec in recs if rec.outcome != CREATED]

    def _after_create(self, lead_ids: list[int], now: dt.datetime) -> None:
        """Assignment and creation history, in bulk."""
        if self.salespeople:
            cursor, _created = (
                RoundRobinCursor.objects.select_for_update().get_or_create(name="leads")
            )
            people = self.salespeople
            start = 0
            if cursor.last_user_id in people:
                start = people.index(cursor.last_user_id) + 1
            shares = defaultdict(list)
            for offset, lead_id in enumerate(lead_ids):
                shares[people[(start + offset) % len(people)]].append(lead_id)
            for person, ids in shares.items():
                Lead.objects.filter(pk__in=ids).update(
                    assigned_to_id=person, assigned_at=now
                )
            cursor.last_user_id = people[(start + len(lead_ids) - 1) % len(people)]
            cursor.save(update_fields=["last_user_id"])
        if connection.vendor == "postgresql":
            return  # the history went in with the leads (_insert_staged)
        adapt = connection.ops.adapt_datetimefield_value
        qn = connection.ops.quote_name
        placeholders = ", ".join(["%s"] * len(lead_ids))
        with connection.cursor() as cursor:
            # Identifiers are our own table names; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {qn(LeadStatusHistory._meta.db_table)} "  # noqa: S608
                "(lead_id, from_status, to_status, changed_by_id, changed_at, note) "
                f"SELECT id, '', status, %s, %s, '' FROM {qn(Lead._meta.db_table)} "
                f"WHERE id IN ({placeholders})",
                [self.by_id, adapt(now), *lead_ids],
            )

    def _apply_fills(self, fills: dict[int, dict], now: dt.datetime) -> None:
        """Fill blank fields of matched leads (the rule of services._merge)."""
        fills = {lead_id: wanted for lead_id, wanted in fills.items() if wanted}
        if not fills:
            return
        leads = {
            lead["id"]: lead
            for lead in Lead.objects.filter(pk__in=list(fills)).values(
                "id", "phone", "email", *FILLABLE_FIELDS
            )
        }
        # Only a lead without a phone (email) can take one: look those up.
        phones, emails = set(), set()
        for lead_id, wanted in fills.items():
            lead = leads.get(lead_id)
            if lead is None:
                continue
            if wanted.get("phone") and not lead["phone"]:
                phones.add(wanted["phone"])
            if wanted.get("email") and not lead["email"]:
                emails.add(wanted["email"])
        taken = set()
        if phones:
            taken |= {
                "p" + p
                for p in Lead.objects.filter(
                    ~Q(phone=""), phone__in=phones
                ).values_list("phone", flat=True)
            }
        if emails:
            taken |= {
                "e" + e
                for e in Lead.objects.annotate(email_lower=Lower("email"))
                .filter(~Q(email=""), email_lower__in=emails)
                .values_list("email_lower", flat=True)
            }
        # Plain field fills are grouped by their values (one UPDATE per group); a
        # phone or email fill goes alone, in a savepoint, since another writer may
        # take the same value meanwhile.
        groups: dict[tuple, list[int]] = defaultdict(list)
        for lead_id, wanted in fills.items():
            lead = leads.get(lead_id)
            if lead is None:
                continue
            updates = {
                name: value
                for name, value in wanted.items()
                if name in FILLABLE_FIELDS and not lead[name]
            }
            contact = {}
            for name, prefix in (("phone", "p"), ("email", "e")):
                value = wanted.get(name)
                if value and not lead[name] and prefix + value not in taken:
                    contact[name] = value
                    taken.add(prefix + value)
            if contact:
                try:
                    with transaction.atomic():
                        Lead.objects.filter(pk=lead_id).update(
                            **updates, **contact, updated_at=now
                        )
                    continue
                except IntegrityError:
                    pass
            if updates:
                groups[tuple(sorted(updates.items()))].append(lead_id)
        for updates, ids in groups.items():
            Lead.objects.filter(pk__in=ids).update(**dict(updates), updated_at=now)


@contextlib.contextmanager
def _relaxed_commits(writing: bool):
    """Chunk commits need not wait for the WAL flush (PostgreSQL).

    A server crash may lose the last chunks' commits, together with their counts
    on the ImportLog (same transactions): the database stays consistent. The setting
    is reset when the rows are done, so the final status update commits normally,
    which flushes every earlier chunk too: an import marked done is durable.
    """
    if not writing or connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    reset = "RESET synchronous_commit"
    try:
        yield
    except BaseException:
        # Keep the import's own error; a broken connection is dropped anyway.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(reset)
        raise
    with connection.cursor() as cursor:
        cursor.execute(reset)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_STAGE = "leads_import_stage"
NULL = "\\N"  # in COPY text format


def _copy_text(texts: tuple[str, ...]) -> str:
    """Strings as tab-separated COPY text fields, escaped only when they need it."""
    line = "\t".join(texts)
    if (
        line.count("\t") != len(texts) - 1
        or "\\" in line
        or "\n" in line
        or "\r" in line
    ):
        line = "\t".join([text.translate(_COPY_ESCAPES) for text in texts])
    return line


@contextlib.contextmanager
def _staging(writing: bool):
    """The session's temporary staging table for COPY (PostgreSQL), made once per
    import; every insert empties it in the statement that reads it."""
    if writing and connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        columns = ", ".join(qn(name) for name in _STAGE_COLUMNS)
        with connection.cursor() as cursor:
            # Identifiers are ours.
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS "  # noqa: S608
                f"AS SELECT {columns} FROM {qn(Lead._meta.db_table)} WITH NO DATA"
            )
    yield


def _stage_line(rec: Record) -> str:
    """The record's line of _STAGE_COLUMNS in COPY text format."""
    get = rec.values.get
    texts = _copy_text(
        (
            *[get(name, "") for name in _TEXT_FIELDS],
            rec.phone,
            rec.email,
            rec.invalid,
            rec.source,
            rec.external_id,
        )
    )
    received = rec.received_at
    return f"{texts}\t{received.isoformat() if received else NULL}\n"


def _insert_staged(
    lines: list[str], *, log_id, by_id, now: dt.datetime, hours: dt.timedelta
) -> list[tuple]:
    """PostgreSQL: COPY ``lines`` into the staging table, then one INSERT ...
    SELECT (much cheaper than a long VALUES list) that empties the stage, adds what
    is the same for the whole chunk, skips rows in conflict (ON CONFLICT DO NOTHING:
    the unique constraints decide between concurrent imports) and writes each
    created lead's creation history row. Assignment, if any, follows; the
    first-contact deadline is the lead's (services.open_missed_first_contacts).
    """
    qn = connection.ops.quote_name
    staged = ", ".join(qn(name) for name in _STAGE_COLUMNS[:-1])  # not received_at
    data = "".join(lines)
    with connection.cursor() as cursor:
        # Identifiers are ours; the values travel through COPY and parameters.
        cursor.cursor.copy_expert(
            f"COPY {_STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN",
            io.StringIO(data),
            size=len(data) + 1,  # one read: each read takes the GIL back
        )
        cursor.execute(
            f"WITH staged AS (DELETE FROM {_STAGE} RETURNING *), "  # noqa: S608
            f"created AS (INSERT INTO {qn(Lead._meta.db_table)} ({staged}, "
            "received_at, first_contact_due_at, status, lost_reason, "
            "import_log_id, created_at, updated_at) "
            f"SELECT {staged}, COALESCE(received_at, %(now)s), "
            "COALESCE(received_at, %(now)s) + %(hours)s, %(status)s, '', %(log)s, "
            "%(now)s, %(now)s FROM staged ORDER BY phone, email "
            "ON CONFLICT DO NOTHING RETURNING id, phone, email, status), "
            f"history AS (INSERT INTO {qn(LeadStatusHistory._meta.db_table)} "
            "(lead_id, from_status, to_status, changed_by_id, changed_at, note) "
            "SELECT id, '', status, %(by)s, %(now)s, '' FROM created) "
            "SELECT id, phone, email FROM created",
            {
                "now": now,
                "hours": hours,
                "status": LeadStatus.NEW.value,
                "log": log_id,
                "by": by_id,
            },
        )
        return cursor.fetchall()


def _value_rows(
    recs: list[Record], now: dt.datetime, hours: dt.timedelta, log_id
) -> list[tuple]:
    """Rows of _INSERT_COLUMNS for _insert_values, in a stable order (two
    overlapping imports then lock index entries alike)."""
    adapt = connection.ops.adapt_datetimefield_value
    now_db = adapt(now)
    # Most rows carry no date of their own: received now, due in ``hours``.
    due_now = adapt(now + hours)
    rows = []
    for rec in sorted(recs, key=lambda rec: rec.phone or rec.email):
        received = rec.received_at
        get = rec.values.get
        rows.append(
            (
                *[get(name, "") for name in _TEXT_FIELDS],
                rec.phone,
                rec.email,
                rec.invalid,
                rec.source,
                rec.external_id,
                adapt(received) if received else now_db,
                adapt(received + hours) if received else due_now,
                LeadStatus.NEW.value,
                "",
                log_id,
                now_db,
                now_db,
            )
        )
    return rows


def _insert_values(rows: list[tuple]) -> list[tuple]:
    """Other databases: multi-row VALUES with ON CONFLICT DO NOTHING (SQLite has
    it); the creation history follows in _after_create."""
    qn = connection.ops.quote_name
    columns = ", ".join(qn(name) for name in _INSERT_COLUMNS)
    head = f"INSERT INTO {qn(Lead._meta.db_table)} ({columns}) VALUES "  # noqa: S608
    one = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
    returned: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            batch = rows[start : start + 500]
            cursor.execute(
                head
                + ", ".join([one] * len(batch))
                + " ON CONFLICT DO NOTHING RETURNING id, phone, email",
                [value for row in batch for value in row],
            )
            returned.extend(cursor.fetchall())
    return returned


def iter_report(path) -> Iterator[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle)
