"""Writing generated rows fast: COPY on PostgreSQL, executemany elsewhere.

Rows are plain tuples in the column order a ``Table`` names, with Python values
(datetimes aware, Decimals, None for NULL). Primary keys are taken up front from the
table's own sequence (PostgreSQL) or counted on from the largest id (SQLite, whose
writer lock keeps anyone else out meanwhile), so related rows can point at each other
before they are written.
"""

import csv
import io
from collections import deque

from django.db import models


class Table:
    """A model's table and the columns (attnames) that generated rows fill, in order."""

    def __init__(self, model: type[models.Model], columns: tuple[str, ...]):
        self.model = model
        self.name = model._meta.db_table
        self.columns = columns
        self.fields = [model._meta.get_field(column) for column in columns]
        missing = {
            f.attname
            for f in model._meta.concrete_fields
            if not f.null and f.attname not in columns
        }
        if missing:
            raise ValueError(f"{self.name}: rows must fill {sorted(missing)}")

    def __str__(self) -> str:
        return self.name


class RowWriter:
    def __init__(self, connection):
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"

    def write(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.postgres:
            self._copy(table, rows)
        else:
            self._insert(table, rows)

    def _copy(self, table: Table, rows: list[tuple]) -> None:
        # CSV quoting every non-number: an empty string arrives quoted (""), None as an
        # empty field that FORCE_NULL turns into NULL in the nullable columns.
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(
            rows
        )
        buffer.seek(0)
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(c) for c in table.columns)
        nullable = ", ".join(quote(f.column) for f in table.fields if f.null)
        options = "FORMAT csv" + (f", FORCE_NULL ({nullable})" if nullable else "")
        with self.connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {quote(table.name)} ({columns}) FROM STDIN WITH ({options})",
                buffer,
            )

    def _insert(self, table: Table, rows: list[tuple]) -> None:
        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(c) for c in table.columns)
        marks = ", ".join(["%s"] * len(table.columns))
        prepare = [f.get_db_prep_save for f in table.fields]
        params = [
            [
                prep(value, connection=self.connection)
                for prep, value in zip(prepare, row, strict=True)
            ]
            for row in rows
        ]
        sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"  # noqa: S608
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, params)


class IdAllocator:
    """Primary keys for a model's new rows, taken before the rows are written."""

    BLOCK = 50_000

    def __init__(self, connection, model: type[models.Model]):
        self.connection = connection
        self.table = model._meta.db_table
        self.pk_column = model._meta.pk.column
        self.block: deque[int] = deque()
        self.next_id = 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_get_serial_sequence(%s, %s)",
                    [connection.ops.quote_name(self.table), self.pk_column],
                )
                self.sequence = cursor.fetchone()[0]
        else:
            self.sequence = None
            largest = model._base_manager.aggregate(m=models.Max("pk"))["m"]
            self.next_id = (largest or 0) + 1

    def take(self) -> int:
        if self.sequence is None:
            self.next_id += 1
            return self.next_id - 1
        if not self.block:
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(%s) FROM generate_series(1, %s)",
                    [self.sequence, self.BLOCK],
                )
                self.block.extend(row[0] for row in cursor.fetchall())
        return self.block.popleft()
