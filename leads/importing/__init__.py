"""Lead imports from CSV, XLSX and Google Sheets.

The public API (the admin, the Celery task and the import_leads command use only
this):

- ``inspect_source(...) -> Preview``: detect, map and dry-run a file.
- ``start_import(...) -> ImportLog``: store the file, queue the import.
- ``run_import(import_log_id) -> ImportLog``: what the task runs (idempotent).
- ``revert_import(import_log, *, by) -> int``: remove the untouched leads it made.
- ``report_rows(import_log)``: the per-row report for download.
"""

from .api import (
    Preview,
    already_imported,
    create_import_log,
    inspect_source,
    report_rows,
    revert_import,
    run_import,
    start_import,
    sweep_stale_imports,
)
from .records import BAD, CREATED, DUPLICATE_EXISTING, DUPLICATE_IN_FILE
from .sources import ImportFileError, fetch_csv, sheet_export_url

__all__ = [
    "BAD",
    "CREATED",
    "DUPLICATE_EXISTING",
    "DUPLICATE_IN_FILE",
    "ImportFileError",
    "Preview",
    "already_imported",
    "create_import_log",
    "fetch_csv",
    "inspect_source",
    "report_rows",
    "revert_import",
    "run_import",
    "sheet_export_url",
    "sweep_stale_imports",
    "start_import",
]
