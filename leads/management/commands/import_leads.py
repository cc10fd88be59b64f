"""Import leads from a CSV or XLSX file, synchronously (no Celery)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leads.importing import (
    ImportFileError,
    create_import_log,
    inspect_source,
    run_import,
)
from leads.models import ImportLog, Source


class Command(BaseCommand):
    help = (
        "Import leads from PATH (CSV or XLSX), de-duplicated against the file and the "
        "database. --dry-run only counts what would happen."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument(
            "--source", required=True, choices=[value for value, _l in Source.choices]
        )
        parser.add_argument("--assign", choices=["none", "round-robin"], default="none")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, path, source, assign, dry_run, **options):
        path = Path(path)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            if dry_run:
                preview = inspect_source(path=path, source=source)
                self._print(preview.expected, prefix="Dry run, nothing written: ")
                if preview.already_imported:
                    self.stdout.write(
                        f"This file was already imported (import "
                        f"#{preview.already_imported.pk})."
                    )
                return
            log = create_import_log(
                path=path,
                source=source,
                mapping=None,
                assign=ImportLog.Assign.ROUND_ROBIN
                if assign == "round-robin"
                else ImportLog.Assign.NONE,
            )
        except ImportFileError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        log = run_import(log.pk)
        if log.status != ImportLog.Status.DONE:
            raise CommandError(f"Import #{log.pk} {log.status}: {log.error}")
        self._print(
            {
                "rows": log.processed_rows,
                "created": log.created_count,
                "duplicate_in_file": log.duplicate_in_file_count,
                "duplicate_existing": log.duplicate_existing_count,
                "bad": log.bad_row_count,
            },
            prefix=f"Import #{log.pk}: ",
        )
        self.stdout.write(f"Per-row report: {log.report.path}")

    def _print(self, counts: dict, *, prefix: str) -> None:
        self.stdout.write(
            prefix + f"{counts['rows']} rows, {counts['created']} created, "
            f"{counts['duplicate_in_file']} duplicates within the file, "
            f"{counts['duplicate_existing']} duplicates of existing leads, "
            f"{counts['bad']} bad rows."
        )
