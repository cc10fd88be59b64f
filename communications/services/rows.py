"""Outbox rows in bulk, without model instances.

Enqueueing a 50,000-client campaign spent more time building ``Message`` instances
and having ``bulk_create`` prepare their values than rendering the messages. Here a
row is a plain dict of column values (``new_row`` fills the model's defaults), and
the rows go in with one statement per batch:

- PostgreSQL: ``COPY`` into a temporary staging table, then ``INSERT ... SELECT ...
  ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key``;
- elsewhere (SQLite): multi-row ``INSERT ... VALUES ... ON CONFLICT
  (idempotency_key) DO NOTHING RETURNING idempotency_key``, as many rows a
  statement as the variable limit allows.

Either way the unique key decides between concurrent writers, and the caller learns
which rows really went in. ``existing_keys`` is the matching read, and ``id_in`` a
filter for many ids: ``column = ANY(array)`` on PostgreSQL, one parameter however
many ids (an ``IN`` list costs the ORM a few microseconds per value).

``update_claimed`` writes the sender's results the same way: one ``UPDATE ...
FROM (VALUES ...)`` per batch on PostgreSQL, still conditional on each row being
``sending``.
"""

import datetime as dt
import io
import zlib
from collections import defaultdict

from django.db import connection
from django.db.models import F, Lookup, Q

from ..models import Message

# Every column but the primary key, in a fixed order.
FIELDS = tuple(f for f in Message._meta.concrete_fields if not f.primary_key)
ATTNAMES = tuple(f.attname for f in FIELDS)
_COLUMNS_SQL = None  # quoted column list, built on first use (needs the connection)
# Named after the columns: a connection kept across a deploy that adds one makes a
# new staging table instead of copying into the old shape.
_STAGE = f"communications_message_stage_{zlib.crc32(','.join(ATTNAMES).encode()):08x}"


_DEFAULTS = {f.attname: f.get_default() for f in FIELDS}


def new_row(**values) -> dict:
    """A Message row: the model's defaults, overridden by ``values`` (attnames)."""
    row = dict(_DEFAULTS)
    row.update(values)
    return row


class _AnyOf(Lookup):
    """``column = ANY(%s)`` with the values as one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def id_in(field: str, values) -> Q | Lookup:
    """A filter: ``field`` is one of ``values`` (ids or strings)."""
    if connection.vendor == "postgresql":
        return _AnyOf(F(field), list(values))
    return Q(**{f"{field}__in": list(values)})


def existing_keys(keys) -> set[str]:
    """The idempotency keys among ``keys`` already in the outbox.

    PostgreSQL: one index probe per key, asked as a LATERAL join so the planner
    cannot swap the probes for a scan of the whole outbox (which it prefers for a
    few thousand keys whenever its statistics lag behind a large insert, as they do
    in the middle of a campaign); elsewhere an ``IN`` list."""
    keys = list(keys)
    if not keys:
        return set()
    if connection.vendor != "postgresql":
        return set(
            Message.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        # The table name is ours; the keys are one array parameter.
        cursor.execute(
            "SELECT k.key FROM unnest(%s::varchar[]) AS k(key) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT 1 FROM {table} "
            "WHERE idempotency_key = k.key LIMIT 1) AS found",
            [keys],
        )
        return {key for (key,) in cursor.fetchall()}


def _columns_sql() -> str:
    global _COLUMNS_SQL
    if _COLUMNS_SQL is None:
        _COLUMNS_SQL = ", ".join(connection.ops.quote_name(f.column) for f in FIELDS)
    return _COLUMNS_SQL


def _copy_line(row: dict) -> str:
    """One line of COPY's text format: tab-separated, ``\\N`` for NULL, and
    backslash, tab and line breaks escaped in text."""
    out = []
    for name in ATTNAMES:
        value = row[name]
        if value is None:
            out.append("\\N")
        elif isinstance(value, str):
            if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
                value = (
                    value.replace("\\", "\\\\")
                    .replace("\t", "\\t")
                    .replace("\n", "\\n")
                    .replace("\r", "\\r")
                )
            out.append(value)
        elif isinstance(value, dt.datetime):
            out.append(value.isoformat())
        elif isinstance(value, bool):
            out.append("t" if value else "f")
        else:
            out.append(str(value))
    return "\t".join(out) + "\n"


def insert_rows(rows: list[dict]) -> set[str]:
    """Insert ``rows`` (from ``new_row``); a row whose idempotency key is already in
    the outbox is left out. Returns the keys of the rows written. Call it inside a
    transaction (the PostgreSQL staging table empties at commit)."""
    if not rows:
        return set()
    table = connection.ops.quote_name(Message._meta.db_table)
    columns = _columns_sql()
    tail = " ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key"
    written: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Identifiers are ours; the values travel through COPY.
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} ON COMMIT DELETE ROWS "  # noqa: S608
                f"AS SELECT {columns} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {_STAGE}")
            buffer = io.StringIO()
            buffer.writelines(_copy_line(row) for row in rows)
            buffer.seek(0)
            # psycopg2's own cursor: Django's has no COPY (nor counts it as a query).
            cursor.cursor.copy_expert(f"COPY {_STAGE} ({columns}) FROM STDIN", buffer)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608
                f"SELECT {columns} FROM {_STAGE}{tail}"
            )
            written.update(key for (key,) in cursor.fetchall())
            return written
        returning = connection.features.can_return_rows_from_bulk_insert
        if not returning:
            # SQLite before 3.35. It has one writer at a time, and the caller read
            # the existing keys in this transaction: every row goes in.
            tail = tail.split(" RETURNING ")[0]
            written.update(row["idempotency_key"] for row in rows)
        prepared = [[_adapt(f, row[f.attname]) for f in FIELDS] for row in rows]
        size = max(1, connection.features.max_query_params // len(FIELDS))
        one = "(" + ", ".join(["%s"] * len(FIELDS)) + ")"
        for start in range(0, len(prepared), size):
            batch = prepared[start : start + size]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
                + ", ".join([one] * len(batch))
                + tail,
                [value for values in batch for value in values],
            )
            if returning:
                written.update(key for (key,) in cursor.fetchall())
    return written


def _adapt(field, value):
    return field.get_db_prep_save(value, connection)


# --- the sender's results ---------------------------------------------------------


def update_claimed(results: list[tuple[int, str, dict]]) -> set[int]:
    """Write each ``(message id, status, fields)`` if the message is still
    ``sending`` (this worker's claim), clearing ``claimed_at``. Returns the ids
    written. PostgreSQL: one ``UPDATE ... FROM (VALUES ...)`` per set of fields
    (a batch of sent messages is one statement); elsewhere one UPDATE per row."""
    if not results:
        return set()
    if connection.vendor != "postgresql":
        written = set()
        for pk, status, fields in results:
            if (
                Message.objects.filter(pk=pk, status=Message.Status.SENDING).update(
                    status=status, claimed_at=None, **fields
                )
                == 1
            ):
                written.add(pk)
        return written
    groups: dict[tuple, list] = defaultdict(list)
    for pk, status, fields in results:
        names = tuple(sorted(fields))
        groups[names].append((pk, status, *(fields[n] for n in names)))
    written = set()
    qn = connection.ops.quote_name
    table = qn(Message._meta.db_table)
    with connection.cursor() as cursor:
        for names, values in groups.items():
            fields = [Message._meta.get_field(n) for n in ("status", *names)]
            aliases = ["id", *(f"v{i}" for i in range(len(fields)))]
            assignments = ", ".join(
                f"{qn(f.column)} = v.v{i}::{f.db_type(connection)}"
                for i, f in enumerate(fields)
            )
            one = "(" + ", ".join(["%s"] * len(aliases)) + ")"
            params = []
            for pk, *row in values:
                params.append(pk)
                params.extend(map(_adapt, fields, row))
            # Identifiers are ours; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} AS m SET {assignments}, "  # noqa: S608
                f"{qn('claimed_at')} = NULL "
                f"FROM (VALUES {', '.join([one] * len(values))}) "
                f"AS v({', '.join(aliases)}) "
                "WHERE m.id = v.id AND m.status = %s RETURNING m.id",
                [*params, Message.Status.SENDING],
            )
            written.update(pk for (pk,) in cursor.fetchall())
    return written
