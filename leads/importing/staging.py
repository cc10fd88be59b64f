"""Writing an import's rows: PostgreSQL sends them through a temporary staging
table (COPY, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING that also writes
the creation history); other databases get multi-row VALUES inserts. Also the
relaxed commits a writing import runs under on PostgreSQL.
"""

import contextlib
import datetime as dt
import io

from django.db import DatabaseError, connection

from ..models import Lead, LeadStatus, LeadStatusHistory
from .records import _TEXT_FIELDS, Record

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
