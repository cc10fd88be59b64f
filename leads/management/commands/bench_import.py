"""Benchmark lead imports on PostgreSQL: seed existing leads with COPY, import a
generated CSV (with duplicates and bad rows) and an XLSX, compare with a raw COPY.

Run it against a dedicated database; it removes the leads and imports it made.
"""

import io
import random
import resource
import tempfile
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from leads.importing import create_import_log, run_import
from leads.models import ImportLog, Lead, LeadFollowUp, LeadStatusHistory

AREAS = (212, 312, 415, 646, 718, 617, 305, 213, 404, 512)
EXCHANGES = tuple(n for n in range(230, 930) if n % 100 != 11)
FIRST = ("Ana", "Luis", "María", "José", "Eva", "Pablo", "Sofía", "Diego", "Lucía")
LAST = ("García", "Muñoz", "López", "Pérez", "Soto", "Ruiz", "Díaz", "Núñez")
HEADERS = ["Nombre", "Teléfono", "Correo", "Campaña", "utm_source"]


def phone_digits(i: int) -> str:
    """A distinct valid US number (10 digits) for every i below 69 million."""
    area = AREAS[i % len(AREAS)]
    rest = i // len(AREAS)
    exchange = EXCHANGES[rest % len(EXCHANGES)]
    return f"{area}{exchange}{(rest // len(EXCHANGES)) % 10000:04d}"


def styled(digits: str, style: int) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return (f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", digits)[style % 4]


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0  # pragma: no cover


def reset_peak_rss() -> tuple[int, str]:
    """The RSS now, after resetting the kernel's peak (VmHWM) when allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        how = "VmHWM, reset before the import"
    except OSError:  # pragma: no cover - old kernels
        how = "ru_maxrss, a process-wide peak"
    return rss_kb(), how


def peak_rss_kb(how: str) -> int:
    if how.startswith("VmHWM"):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover


def checkpoint() -> None:
    """Start a timed write with no earlier write's WAL or dirty pages pending, so
    that neither measurement pays for what came before it (the seeding). Needs a
    superuser or the pg_checkpoint role; without them both run as they are."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:
        pass


class Command(BaseCommand):
    help = "Benchmark lead imports (PostgreSQL): rows/s vs COPY, memory, XLSX time."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=200_000)
        parser.add_argument("--existing", type=int, default=500_000)
        parser.add_argument("--xlsx-rows", type=int, default=100_000)
        parser.add_argument("--keep", action="store_true", help="keep the rows")

    def handle(self, *args, rows, existing, xlsx_rows, keep, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_import needs PostgreSQL (set DATABASE_URL).")
        self.rng = random.Random(42)  # noqa: S311 (benchmark data, not security)
        first_lead = (
            Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        first_log = (
            ImportLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        workdir = Path(tempfile.mkdtemp(prefix="bench-import-"))
        results = []
        try:
            started = time.perf_counter()
            self.seed(existing)
            self.stdout.write(
                f"Seeded {existing:,} existing leads with COPY in "
                f"{time.perf_counter() - started:.1f}s"
            )
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {Lead._meta.db_table}")
            csv_path, table_rows = self.make_csv(workdir / "leads.csv", rows, existing)
            copy_rate = self.copy_rate(table_rows)
            del table_rows
            results += self.bench_csv(csv_path, rows, copy_rate)
            xlsx_path = self.make_xlsx(
                workdir / "leads.xlsx", xlsx_rows, existing + rows * 2
            )
            results += self.bench_xlsx(xlsx_path, xlsx_rows)
        finally:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()
            if not keep:
                self.clean(first_lead, first_log)
        failed = [name for name, ok in results if not ok]
        self.stdout.write(
            "ALL TARGETS PASS" if not failed else "FAILED: " + ", ".join(failed)
        )

    # --- data ---------------------------------------------------------------------

    def seed(self, existing: int) -> None:
        now = timezone.now().isoformat()
        columns = (
            "full_name, phone, email, invalid_contact, source, campaign_name, ad_name, "
            "form_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
            "external_id, received_at, status, lost_reason, first_contact_due_at, "
            "notes, created_at, updated_at"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, existing, 100_000):
                buffer = io.StringIO()
                for i in range(start, min(existing, start + 100_000)):
                    name = f"{FIRST[i % 9]} {LAST[i % 8]}"
                    email = f"old{i}@example.com" if i % 2 else ""
                    buffer.write(
                        f"{name}\t+1{phone_digits(i)}\t{email}\t\tother\t\t\t\t\t\t\t"
                        f"\t\t\t{now}\tnew\t\t{now}\t\t{now}\t{now}\n"
                    )
                buffer.seek(0)
                cursor.cursor.copy_expert(
                    f"COPY {Lead._meta.db_table} ({columns}) FROM STDIN", buffer
                )

    def make_csv(self, path: Path, rows: int, existing: int):
        """~4% within-file duplicates, ~4% of existing leads, ~1% bad rows."""
        rng = self.rng
        table_rows = []
        written = []
        import csv

        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADERS)
            for k in range(rows):
                roll = rng.random()
                name = f"{FIRST[k % 9]} {LAST[k % 8]}"
                email = ""
                if roll < 0.01:
                    phone = "12345"
                elif roll < 0.05 and written:
                    phone = styled(rng.choice(written), k)
                elif roll < 0.09 and existing:
                    phone = styled(phone_digits(rng.randrange(existing)), k)
                else:
                    digits = phone_digits(existing + k)
                    written.append(digits)
                    phone = styled(digits, k)
                    email = f"new{k}@example.com" if k % 2 else ""
                row = [name, phone, email, "Spring promo", "instagram"]
                writer.writerow(row)
                table_rows.append(row)
        return path, table_rows

    def make_xlsx(self, path: Path, rows: int, offset: int) -> Path:
        """A minimal XLSX (inline strings, numeric phones), streamed to the zip."""

        def cell(ref, value):
            if isinstance(value, int):
                return f'<c r="{ref}"><v>{value}</v></c>'
            return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'

        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                "[Content_Types].xml",
                '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                'openxmlformats.org/package/2006/content-types"><Default Extension="'
                'rels" ContentType="application/vnd.openxmlformats-package.'
                'relationships+xml"/><Default Extension="xml" ContentType="'
                'application/xml"/><Override PartName="/xl/workbook.xml" ContentType'
                '="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                'sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.'
                'spreadsheetml.worksheet+xml"/></Types>',
            )
            archive.writestr(
                "_rels/.rels",
                '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
                'schemas.openxmlformats.org/package/2006/relationships"><Relationship'
                ' Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                "</Relationships>",
            )
            archive.writestr(
                "xl/workbook.xml",
                '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://'
                'schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://'
                'schemas.openxmlformats.org/officeDocument/2006/relationships">'
                '<sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets>'
                "</workbook>",
            )
            archive.writestr(
                "xl/_rels/workbook.xml.rels",
                '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
                'schemas.openxmlformats.org/package/2006/relationships"><Relationship'
                ' Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
                '2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                "</Relationships>",
            )
            with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
                sheet.write(
                    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                    b'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                )
                for r in range(rows + 1):
                    if r == 0:
                        values = HEADERS
                    else:
                        k = r - 1
                        values = [
                            f"{FIRST[k % 9]} {LAST[k % 8]}",
                            int(phone_digits(offset + k)),
                            f"x{k}@example.com" if k % 3 == 0 else "",
                            "Summer",
                            "facebook",
                        ]
                    cells = "".join(
                        cell(f"{'ABCDE'[c]}{r + 1}", v) for c, v in enumerate(values)
                    )
                    sheet.write(f'<row r="{r + 1}">{cells}</row>'.encode())
                sheet.write(b"</sheetData></worksheet>")
        return path

    # --- measurements ---------------------------------------------------------------

    def copy_rate(self, table_rows: list[list]) -> float:
        """Rows per second of a raw COPY of the same rows into an empty copy of the
        table: an ordinary (logged) table with the lead table's columns, defaults,
        check constraints, primary key and every one of its indexes, as the import's
        target has. The unique indexes are built as plain ones: the raw rows hold the
        file's duplicates, which a unique index would refuse, and the write cost of
        an index entry is the same. That is the rate the target compares with.

        For reference it also prints a COPY into a temporary table of the columns
        alone, which skips the WAL and every index: no import into the real table
        can approach it, and it is not the comparison the target makes.
        """
        now = timezone.now().isoformat()
        lines = [
            f"{name}\t{phone[:20]}\t{email}\t\tother\t{campaign}\t\t\t{utm}\t\t\t"
            f"\t\t\t{now}\tnew\t\t{now}\t\t{now}\t{now}\n"
            for name, phone, email, campaign, utm in table_rows
        ]
        columns = (
            "full_name, phone, email, invalid_contact, source, campaign_name, ad_name, "
            "form_name, utm_source, utm_medium, utm_campaign, utm_term, utm_content, "
            "external_id, received_at, status, lost_reason, first_contact_due_at, "
            "notes, created_at, updated_at"
        )
        table = Lead._meta.db_table
        rates = {}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = %s AND indexname <> %s",
                [table, f"{table}_pkey"],
            )
            index_defs = [row[0] for row in cursor.fetchall()]
        copy_table = [
            f"CREATE TABLE bench_copy (LIKE {table} INCLUDING DEFAULTS "
            "INCLUDING IDENTITY INCLUDING CONSTRAINTS, PRIMARY KEY (id))"
        ]
        for n, definition in enumerate(index_defs):
            head, _on, rest = definition.partition(" ON ")
            copy_table.append(
                f"CREATE INDEX bench_copy_{n} ON bench_copy "
                + rest.split(" ", 1)[1]  # after the table name
            )
        for name, statements in (
            ("copy", copy_table),
            (
                "bare",
                [
                    "CREATE TEMP TABLE bench_copy "
                    f"(LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY)"
                ],
            ),
        ):
            buffer = io.StringIO()
            buffer.writelines(lines)
            buffer.seek(0)
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                checkpoint()
                try:
                    started = time.perf_counter()
                    with transaction.atomic():
                        cursor.cursor.copy_expert(
                            f"COPY bench_copy ({columns}) FROM STDIN", buffer
                        )
                    rates[name] = len(lines) / (time.perf_counter() - started)
                finally:
                    cursor.execute("DROP TABLE bench_copy")
        self.stdout.write(
            f"Raw COPY of the same {len(lines):,} rows into an empty copy of the "
            f"table ({len(index_defs)} indexes besides the key, constraints, logged): "
            f"{rates['copy']:,.0f} rows/s"
        )
        self.stdout.write(
            f"  for reference, into a temporary table of its columns only (no "
            f"indexes, no WAL): {rates['bare']:,.0f} rows/s"
        )
        return rates["copy"]

    def bench_csv(self, path: Path, rows: int, copy_rate: float):
        log = create_import_log(path=path, source="csv", mapping=None)
        checkpoint()
        before, how = reset_peak_rss()
        started = time.perf_counter()
        log = run_import(log.pk)
        elapsed = time.perf_counter() - started
        peak = peak_rss_kb(how)
        if log.status != ImportLog.Status.DONE:
            raise CommandError(f"CSV import failed: {log.error}")
        rate = rows / elapsed
        memory_mb = max(0, peak - before) / 1024
        self.stdout.write(
            f"CSV import of {rows:,} rows: {elapsed:.1f}s, {rate:,.0f} rows/s — "
            f"{log.created_count:,} created, {log.duplicate_in_file_count:,} "
            f"duplicates in file, {log.duplicate_existing_count:,} of existing, "
            f"{log.bad_row_count:,} bad"
        )
        self.stdout.write(
            f"Memory: peak RSS during the import ({how}) {peak / 1024:.0f} MB, "
            f"{memory_mb:.0f} MB above the RSS before it ({before / 1024:.0f} MB)"
        )
        checks = [
            ("rows/s >= 10,000", rate >= 10_000, f"{rate:,.0f}"),
            (
                "rows/s >= COPY/4",
                rate >= copy_rate / 4,
                f"{rate:,.0f} vs {copy_rate / 4:,.0f}",
            ),
            ("memory < 300 MB", memory_mb < 300, f"{memory_mb:.0f} MB"),
        ]
        return self.report(checks)

    def bench_xlsx(self, path: Path, rows: int):
        log = create_import_log(path=path, source="excel", mapping=None)
        started = time.perf_counter()
        log = run_import(log.pk)
        elapsed = time.perf_counter() - started
        if log.status != ImportLog.Status.DONE:
            raise CommandError(f"XLSX import failed: {log.error}")
        self.stdout.write(
            f"XLSX import of {rows:,} rows: {elapsed:.1f}s, {rows / elapsed:,.0f} "
            f"rows/s — {log.created_count:,} created"
        )
        return self.report(
            [
                (
                    "XLSX 100k rows < 30 s",
                    elapsed < 30 * rows / 100_000,
                    f"{elapsed:.1f}s",
                )
            ]
        )

    def report(self, checks):
        for name, ok, figure in checks:
            self.stdout.write(f"{'PASS' if ok else 'FAIL'}  {name}: {figure}")
        return [(name, ok) for name, ok, _figure in checks]

    def clean(self, first_lead: int, first_log: int) -> None:
        qn = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            for model in (LeadFollowUp, LeadStatusHistory):
                # Table names are ours; the bound is a parameter.
                cursor.execute(
                    f"DELETE FROM {qn(model._meta.db_table)} "  # noqa: S608
                    "WHERE lead_id > %s",
                    [first_lead],
                )
            cursor.execute(
                f"DELETE FROM {qn(Lead._meta.db_table)} WHERE id > %s",  # noqa: S608
                [first_lead],
            )
        for log in ImportLog.objects.filter(pk__gt=first_log):
            log.file.delete(save=False)
            log.report.delete(save=False)
            log.delete()
        if not connection.in_atomic_block:
            # The next run should not find these dead rows (autovacuum may be off).
            with connection.cursor() as cursor:
                for model in (Lead, LeadStatusHistory, LeadFollowUp):
                    cursor.execute(f"VACUUM ANALYZE {qn(model._meta.db_table)}")
        self.stdout.write("Removed the benchmark's leads and imports.")
