"""The import pipeline: rows → normalised records (records) → de-duplication
(within the file and against the database) → INSERT ... ON CONFLICT DO NOTHING in
chunks (staging), one transaction each.

Created rows bypass Lead.save() and its post_save signal, so this module writes the
creation history rows and round-robin assignment itself, in bulk, with the same
rules as leads.services.
"""

import contextlib
import csv
import datetime as dt
import io
import queue
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..models import Lead, LeadStatusHistory, RoundRobinCursor
from ..normalize import clean_text, phone_text, strip_meta_prefix
from ..services import FILLABLE_FIELDS, active_salespeople
from .columns import GENERIC_SOURCES, row_source
from .matching import apply_fills, match_existing
from .records import (
    _TEXT_FIELDS,
    BAD,
    CREATED,
    DUPLICATE_IN_FILE,
    Counts,
    Record,
    _clean,
    _email,
    cell_text,
    fast_phone,
    parse_received,
)
from .staging import (
    _insert_staged,
    _insert_values,
    _relaxed_commits,
    _stage_line,
    _staging,
    _value_rows,
)

CHUNK_SIZE = 2000
_SWITCH_INTERVAL = 0.0002  # seconds, while the parsing thread runs


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
            for rec in match_existing(pending, fills):
                rec.outcome = CREATED
        else:
            # Insert first: the unique indexes find the duplicates of existing leads
            # as the rows go in (ON CONFLICT DO NOTHING), so only the few rows left
            # out are looked up, for the lead they matched. A row left out that
            # matches nothing lost to a writer that has since rolled back: retry.
            rest = pending
            for _attempt in range(3):
                rest = match_existing(self._insert(rest, now), fills)
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
            apply_fills(fills, now)
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
