"""The import operations the admin, the task and the command call."""

import csv
import datetime as dt
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ImportLog, Lead, LeadFollowUp, LeadStatus
from .columns import FIELDS, clean_mapping, column_indexes
from .pipeline import Pipeline
from .records import REPORT_HEADER, Counts, iter_report
from .sources import (
    ImportFileError,
    copy_to_temp,
    fetch_csv,
    file_sha256,
    is_google_sheet_url,
    open_table,
    sheet_export_url,
)

logger = logging.getLogger(__name__)


@dataclass
class Preview:
    format: str
    encoding: str
    delimiter: str
    headers: list[str]
    mapping: dict[str, str]
    fields: list[tuple[str, str]]
    sample: list[dict]
    expected: dict
    file_sha256: str
    already_imported: ImportLog | None = None
    rows: int = field(default=0)


def _field_choices() -> list[tuple[str, str]]:
    return [("", _("(ignore)"))] + [(value, str(label)) for value, label in FIELDS]


def _checked_mapping(headers: list[str], mapping: dict | None) -> dict[str, str]:
    mapping = clean_mapping(headers, mapping)
    if not {"phone", "email"} & set(mapping.values()):
        raise ImportFileError(
            _(
                "No phone or email column was recognised (columns: %(headers)s). "
                "Choose which column holds the phone or the email."
            )
            % {"headers": ", ".join(h for h in headers if h)[:300] or "—"}
        )
    return mapping


def _sheet_to_temp(sheet_url: str) -> Path:
    """Google Sheets links only (no fetching arbitrary addresses from the server)."""
    if not is_google_sheet_url(sheet_url):
        raise ImportFileError(
            _("This is not a Google Sheets link (https://docs.google.com/...).")
        )
    return fetch_csv(sheet_export_url(sheet_url))


def _materialise(*, upload=None, path=None, sheet_url=None) -> tuple[Path, bool]:
    """The input as a local path, and whether it is a temporary copy to delete."""
    given = sum(x is not None and x != "" for x in (upload, path, sheet_url))
    if given != 1:
        raise ImportFileError(_("Give one file or one Google Sheets link."))
    if path is not None:
        return Path(path), False
    if sheet_url:
        return _sheet_to_temp(sheet_url), True
    return copy_to_temp(upload), True


def _format_of(table, sheet_url) -> str:
    if sheet_url:
        return ImportLog.Format.GOOGLE_SHEETS
    return ImportLog.Format.XLSX if table.format == "xlsx" else ImportLog.Format.CSV


def inspect_source(
    *,
    upload=None,
    path=None,
    sheet_url=None,
    source: str,
    mapping: dict | None = None,
    sample_rows: int = 10,
) -> Preview:
    """Detect the file's format and columns and dry-run it (no writes)."""
    local, temporary = _materialise(upload=upload, path=path, sheet_url=sheet_url)
    try:
        table = open_table(local)
        checked = _checked_mapping(table.headers, mapping)
        pipeline = Pipeline(
            indexes=column_indexes(table.headers, checked),
            source=source,
            dry_run=True,
            sample_rows=sample_rows,
        )
        counts = _run_rows(pipeline, table)
        sha = file_sha256(local)
    finally:
        if temporary:
            local.unlink(missing_ok=True)
    expected = {
        "rows": counts.rows,
        "created": counts.created,
        "duplicate_in_file": counts.duplicate_in_file,
        "duplicate_existing": counts.duplicate_existing,
        "bad": counts.bad,
    }
    return Preview(
        format=_format_of(table, sheet_url),
        encoding=table.encoding,
        delimiter=table.delimiter,
        headers=table.headers,
        mapping=checked,
        fields=_field_choices(),
        sample=pipeline.sample,
        expected=expected,
        file_sha256=sha,
        already_imported=already_imported(sha),
        rows=counts.rows,
    )


def _run_rows(pipeline: Pipeline, table) -> Counts:
    try:
        return pipeline.run(table.rows())
    except (csv.Error, UnicodeError) as exc:
        raise ImportFileError(
            _("The file cannot be read: %(error)s") % {"error": exc}
        ) from exc


def already_imported(sha: str) -> ImportLog | None:
    return (
        ImportLog.objects.filter(file_sha256=sha, status=ImportLog.Status.DONE)
        .order_by("-created_at")
        .first()
    )


def create_import_log(
    *,
    upload=None,
    path=None,
    sheet_url=None,
    source: str,
    mapping: dict | None,
    assign: str = ImportLog.Assign.NONE,
    by=None,
) -> ImportLog:
    """Store the file (a sheet is fetched once) and a queued ImportLog for it."""
    local, temporary = _materialise(upload=upload, path=path, sheet_url=sheet_url)
    try:
        table = open_table(local)
        checked = _checked_mapping(table.headers, mapping)
        if sheet_url:
            name = "google-sheet.csv"
        else:
            name = Path(getattr(upload, "name", None) or str(path)).name
        log = ImportLog(
            original_name=name[:255],
            sheet_url=sheet_url or "",
            file_sha256=file_sha256(local),
            format=_format_of(table, sheet_url),
            encoding=table.encoding,
            delimiter=table.delimiter,
            mapping=checked,
            source=source,
            assign=assign,
            created_by=by,
            status=ImportLog.Status.QUEUED,
        )
        with open(local, "rb") as handle:
            log.file.save(name, File(handle), save=False)
        log.save()
    finally:
        if temporary:
            local.unlink(missing_ok=True)
    return log


def start_import(
    *, upload=None, sheet_url=None, source: str, mapping: dict | None, assign: str, by
) -> ImportLog:
    """Save the file, create the ImportLog (queued) and queue the import task."""
    from ..tasks import run_import_task

    log = create_import_log(
        upload=upload,
        sheet_url=sheet_url,
        source=source,
        mapping=mapping,
        assign=assign,
        by=by,
    )
    transaction.on_commit(lambda: run_import_task.delay(log.pk))
    return log


def run_import(import_log_id: int) -> ImportLog:
    """Run a queued import once: claim it (queued → running), stream its rows in
    chunks, write the report, end done or failed. A repeat call does nothing."""
    now = timezone.now()
    claimed = ImportLog.objects.filter(
        pk=import_log_id, status=ImportLog.Status.QUEUED
    ).update(status=ImportLog.Status.RUNNING, started_at=now, updated_at=now)
    log = ImportLog.objects.select_related("created_by").get(pk=import_log_id)
    if not claimed:
        return log
    report_file = tempfile.NamedTemporaryFile(
        mode="w", suffix=".csv", encoding="utf-8-sig", newline="", delete=False
    )
    report_path = Path(report_file.name)
    local, temporary = None, False
    try:
        with report_file:
            writer = csv.writer(report_file)
            writer.writerow(REPORT_HEADER)
            local, temporary = _stored_path(log.file)
            table = open_table(local)
            headers = table.headers
            mapping = clean_mapping(headers, log.mapping or None)
            total = table.count_rows()
            ImportLog.objects.filter(pk=log.pk).update(total_rows=total)
            pipeline = Pipeline(
                indexes=column_indexes(headers, mapping),
                source=log.source,
                dry_run=False,
                log=log,
                assign=log.assign,
                by=log.created_by,
                report=report_file,
            )
            _run_rows(pipeline, table)
        with open(report_path, "rb") as handle:
            log.report.save(f"import-{log.pk}-report.csv", File(handle), save=False)
        ImportLog.objects.filter(pk=log.pk).update(
            report=log.report.name,
            total_rows=pipeline.counts.rows,
            status=ImportLog.Status.DONE,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    except Exception as exc:
        logger.exception("Lead import %s failed", log.pk)
        log.refresh_from_db()
        message = str(exc.messages[0]) if hasattr(exc, "messages") else repr(exc)
        ImportLog.objects.filter(pk=log.pk).update(
            status=ImportLog.Status.FAILED,
            error=_(
                "%(error)s — stopped after %(rows)s of %(total)s rows; the leads "
                "created before that are kept (revert the import to remove them)."
            )
            % {"error": message, "rows": log.processed_rows, "total": log.total_rows},
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    finally:
        report_path.unlink(missing_ok=True)
        if temporary:
            local.unlink(missing_ok=True)
    log.refresh_from_db()
    return log


def _stored_path(field_file) -> tuple[Path, bool]:
    """A stored file as a local path (copied when the storage is remote)."""
    try:
        return Path(field_file.path), False
    except NotImplementedError:
        with field_file.open("rb") as stored:
            return copy_to_temp(stored), True


def revert_import(import_log: ImportLog, *, by=None) -> int:
    """Delete the leads this import created that nobody has touched since; returns
    how many. The log becomes reverted; a second call removes nothing."""
    with transaction.atomic():
        log = ImportLog.objects.select_for_update().get(pk=import_log.pk)
        if log.reverted_at is not None:
            return 0
        if log.status not in (ImportLog.Status.DONE, ImportLog.Status.FAILED):
            raise ImportFileError(_("Only a finished import can be reverted."))
        untouched = (
            Lead.objects.filter(
                import_log=log,
                status=LeadStatus.NEW,
                client__isnull=True,
                converted_at__isnull=True,
                updated_at__lte=log.finished_at,
            )
            .annotate(
                done_follow_ups=Count(
                    "follow_ups",
                    filter=Q(follow_ups__status=LeadFollowUp.Status.DONE),
                    distinct=True,
                ),
                history_rows=Count("history", distinct=True),
            )
            .filter(done_follow_ups=0, history_rows__lte=1)
        )
        ids = list(untouched.values_list("pk", flat=True))
        removed = 0
        for start in range(0, len(ids), 2000):
            removed += (
                Lead.objects.filter(pk__in=ids[start : start + 2000])
                .delete()[1]
                .get(Lead._meta.label, 0)
            )
        now = timezone.now()
        log.status = ImportLog.Status.REVERTED
        log.reverted_at = now
        log.reverted_count = removed
        log.save(
            update_fields=["status", "reverted_at", "reverted_count", "updated_at"]
        )
    import_log.refresh_from_db()
    logger.info("Import %s reverted by %s: %s leads removed", log.pk, by, removed)
    return removed


def report_rows(import_log: ImportLog) -> Iterator[list[str]]:
    """The per-row report (header first), for download."""
    if not import_log.report:
        return iter(())
    return _stream_report(import_log)


def _stream_report(import_log: ImportLog) -> Iterator[list[str]]:
    path, temporary = _stored_path(import_log.report)
    try:
        yield from iter_report(path)
    finally:
        if temporary:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    failed: int


def sweep_stale_imports(*, now=None) -> SweepResult:
    """The beat job's safety net for imports a worker never finished.

    A queued import nobody picked up within LEADS_IMPORT_STALE_MINUTES (the broker lost
    the message, or it was never sent) is queued again. A running import whose
    progress has not moved for that long lost its worker: it ends failed with a
    message saying how far it got. Its created leads stay and are counted; importing
    the same file again is safe, since every row it already took is a duplicate.
    """
    from ..tasks import run_import_task

    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=settings.LEADS_IMPORT_STALE_MINUTES)
    stale_queued = list(
        ImportLog.objects.filter(
            status=ImportLog.Status.QUEUED, updated_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for pk in stale_queued:
        ImportLog.objects.filter(pk=pk, status=ImportLog.Status.QUEUED).update(
            updated_at=now
        )
        transaction.on_commit(lambda pk=pk: run_import_task.delay(pk))
    failed = 0
    for log in ImportLog.objects.filter(
        status=ImportLog.Status.RUNNING, updated_at__lt=cutoff
    ):
        message = _(
            "The import stopped after %(rows)s rows: its worker was lost. The leads it "
            "created stay; import the file again to finish (rows already taken become "
            "duplicates), or revert it."
        ) % {"rows": log.processed_rows}
        failed += ImportLog.objects.filter(
            pk=log.pk, status=ImportLog.Status.RUNNING, updated_at__lt=cutoff
        ).update(
            status=ImportLog.Status.FAILED,
            error=message,
            finished_at=now,
            updated_at=now,
        )
    if stale_queued or failed:
        logger.warning(
            "Stale lead imports: %s queued again, %s failed", len(stale_queued), failed
        )
    return SweepResult(requeued=len(stale_queued), failed=failed)
