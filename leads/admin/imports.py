"""Lead imports: upload, dry run with the column mapping, progress, report, revert.

The uploaded file waits between the dry run and the import in MEDIA_ROOT/imports/tmp/
under a random name kept in the session; leads.importing does the work."""

import csv
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.http import HttpResponseRedirect, JsonResponse
from django.http.response import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from crm_project.admin_tools import error_messages
from crm_project.pagination import EstimatedCountPaginator

from ..forms import ImportMappingForm, ImportUploadForm
from ..importing import (
    ImportFileError,
    inspect_source,
    report_rows,
    revert_import,
    start_import,
)
from ..importing.columns import FIELDS
from ..importing.sources import open_table
from ..models import ImportLog, Lead
from .common import ImportButtonMixin, badge

SESSION_IMPORTS = "leads_pending_imports"
# Uploads waiting between the dry run and the import; older ones are swept.
TMP_MAX_AGE_SECONDS = 24 * 3600
MAX_PENDING_IMPORTS = 5


class Echo:
    """A file-like object whose write returns the line, for streaming csv."""

    def write(self, value):
        return value


def _used(mapping: dict) -> dict:
    return {header: field for header, field in (mapping or {}).items() if field}


def _tmp_dir() -> Path:
    directory = Path(settings.MEDIA_ROOT) / "imports" / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _sweep_tmp(directory: Path) -> None:
    cutoff = timezone.now().timestamp() - TMP_MAX_AGE_SECONDS
    for item in directory.iterdir():
        try:
            if item.is_file() and item.stat().st_mtime < cutoff:
                item.unlink()
        except OSError:
            pass


@admin.register(ImportLog)
class ImportLogAdmin(ImportButtonMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "created_at",
        "source",
        "status_badge",
        "total_rows",
        "created_count",
        "duplicate_in_file_count",
        "duplicate_existing_count",
        "bad_row_count",
        "created_by",
    ]
    list_select_related = ["created_by"]
    list_filter = ["status", "source", "format"]
    search_fields = ["original_name"]
    change_form_template = "admin/leads/importlog/change_form.html"
    fields = [
        "original_name",
        "sheet_url",
        "format",
        "encoding",
        "delimiter",
        "source",
        "assign",
        "mapping",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "reverted_at",
        "reverted_count",
        "file_sha256",
    ]
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:leads_importlog_upload"))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="leads_importlog_upload"),
            path(
                "preview/<slug:token>/",
                wrap(self.preview_view),
                name="leads_importlog_preview",
            ),
            path(
                "<int:pk>/progress/",
                wrap(self.progress_view),
                name="leads_importlog_progress",
            ),
            path(
                "<int:pk>/report/",
                wrap(self.report_view),
                name="leads_importlog_report",
            ),
            path(
                "<int:pk>/revert/",
                wrap(self.revert_view),
                name="leads_importlog_revert",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return badge("import", obj.status, obj.get_status_display())

    # --- the change page: progress, report, revert ------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        extra_context["may_revert"] = request.user.has_perm("leads.change_importlog")
        extra_context["running_statuses"] = [
            ImportLog.Status.QUEUED,
            ImportLog.Status.RUNNING,
        ]
        return super().change_view(request, object_id, form_url, extra_context)

    def _get_log(self, request, pk) -> ImportLog:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ImportLog, pk=pk)

    def progress_view(self, request, pk):
        log = self._get_log(request, pk)
        return JsonResponse(
            {
                "status": log.status,
                "status_display": str(log.get_status_display()),
                "percent": log.progress_percent,
                "total": log.total_rows,
                "processed": log.processed_rows,
                "created": log.created_count,
                "duplicate_in_file": log.duplicate_in_file_count,
                "duplicate_existing": log.duplicate_existing_count,
                "bad": log.bad_row_count,
                "error": log.error,
                "finished": log.status
                not in (ImportLog.Status.QUEUED, ImportLog.Status.RUNNING),
            }
        )

    def report_view(self, request, pk):

        log = self._get_log(request, pk)
        writer = csv.writer(Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in report_rows(log)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="lead-import-{log.pk}-report.csv"'
        )
        return response

    def revert_view(self, request, pk):

        log = self._get_log(request, pk)
        if not request.user.has_perm("leads.change_importlog"):
            raise PermissionDenied
        change_url = reverse("admin:leads_importlog_change", args=[log.pk])
        if request.method == "POST":
            try:
                removed = revert_import(log, by=request.user)
            except ValidationError as exc:
                for reason in error_messages(exc):
                    self.message_user(request, reason, messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "Import reverted: %(count)d lead removed.",
                        "Import reverted: %(count)d leads removed.",
                        removed,
                    )
                    % {"count": removed},
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Revert the import"),
            "log": log,
            "opts": self.model._meta,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/leads/importlog/revert.html", context)

    # --- upload and dry run -----------------------------------------------------------

    def _check_may_import(self, request) -> None:
        if not request.user.has_perm("leads.add_importlog"):
            raise PermissionDenied

    def upload_view(self, request):
        from ..importing.sources import open_table

        self._check_may_import(request)
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            pending = {
                "source": form.cleaned_data["source"],
                "assign": form.cleaned_data["assign"],
                "sheet_url": form.cleaned_data.get("sheet_url") or "",
                "original_name": "",
                "tmp": "",
                "mapping": None,
            }
            token = secrets.token_urlsafe(16).replace("-", "x").replace("_", "y")
            upload = form.cleaned_data.get("file")
            directory = _tmp_dir()
            _sweep_tmp(directory)
            tmp_path = None
            try:
                if upload is not None:
                    suffix = Path(upload.name).suffix.lower()
                    tmp_path = directory / f"{token}{suffix}"
                    with tmp_path.open("wb") as out:
                        for chunk in upload.chunks():
                            out.write(chunk)
                    pending["tmp"] = tmp_path.name
                    pending["original_name"] = Path(upload.name).name[:255]
                    # Readable is enough here: the dry run lets the user fix the
                    # column mapping.
                    open_table(tmp_path)
                else:
                    inspect_source(
                        sheet_url=pending["sheet_url"],
                        source=pending["source"],
                        sample_rows=1,
                    )
            except ImportFileError as exc:
                if tmp_path is not None:
                    tmp_path.unlink(missing_ok=True)
                for reason in error_messages(exc):
                    form.add_error("file" if upload else "sheet_url", reason)
            else:
                imports = request.session.get(SESSION_IMPORTS, {})
                # Abandoned dry runs: keep the latest few (their files are swept).
                for stale in list(imports)[: -(MAX_PENDING_IMPORTS - 1)]:
                    imports.pop(stale, None)
                imports[token] = pending
                request.session[SESSION_IMPORTS] = imports
                return HttpResponseRedirect(
                    reverse("admin:leads_importlog_preview", args=[token])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import leads"),
            "form": form,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/leads/importlog/upload.html", context)

    def preview_view(self, request, token):

        self._check_may_import(request)
        imports = request.session.get(SESSION_IMPORTS, {})
        pending = imports.get(token)
        upload_url = reverse("admin:leads_importlog_upload")
        tmp_path = _tmp_dir() / pending["tmp"] if pending and pending["tmp"] else None
        if pending is None or (tmp_path is not None and not tmp_path.exists()):
            self.message_user(
                request,
                gettext("That upload has expired; please upload the file again."),
                messages.WARNING,
            )
            return HttpResponseRedirect(upload_url)

        def inspect(mapping):
            """The dry run, or (None, headers, reasons) when the mapping is unusable."""
            try:
                preview = inspect_source(
                    path=str(tmp_path) if tmp_path else None,
                    sheet_url=pending["sheet_url"] or None,
                    source=pending["source"],
                    mapping=mapping,
                )
            except ImportFileError as exc:
                reasons = error_messages(exc)
                if tmp_path is None:
                    return None, [], reasons
                try:
                    headers = open_table(tmp_path).headers
                except ImportFileError as unreadable:
                    return None, [], error_messages(unreadable)
                return None, headers, reasons
            return preview, preview.headers, []

        field_choices = [(value, str(label)) for value, label in FIELDS]
        preview, headers, errors = inspect(pending["mapping"])
        if preview is None and not headers:
            for reason in errors:
                self.message_user(request, reason, messages.ERROR)
            return HttpResponseRedirect(upload_url)
        mapping = preview.mapping if preview else (pending["mapping"] or {})
        form = ImportMappingForm(
            request.POST or None,
            headers=headers,
            fields=field_choices,
            mapping=mapping,
        )
        if request.method == "POST" and form.is_valid():
            mapping = form.mapping()
            if "import" in request.POST and preview is not None:
                if _used(mapping) == _used(preview.mapping):
                    return self._start(request, token, pending, tmp_path, mapping)
            preview, headers, errors = inspect(mapping)
            if preview is None and not headers:
                for reason in errors:
                    self.message_user(request, reason, messages.ERROR)
                return HttpResponseRedirect(upload_url)
            pending["mapping"] = mapping
            imports[token] = pending
            request.session[SESSION_IMPORTS] = imports
            form = ImportMappingForm(
                headers=headers, fields=field_choices, mapping=mapping
            )
        sample = preview.sample if preview else []
        sample_columns = list(sample[0].keys()) if sample else []
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import leads: check before importing"),
            "preview": preview,
            "form": form,
            "mapping_errors": errors,
            "pending": pending,
            "sample_columns": sample_columns,
            "sample_rows": [
                [row.get(column, "") for column in sample_columns] for row in sample
            ],
            "source_display": dict(Lead.Source.choices).get(pending["source"]),
            "assign_display": dict(ImportLog.Assign.choices).get(pending["assign"]),
            "opts": self.model._meta,
            "upload_url": upload_url,
        }
        return TemplateResponse(request, "admin/leads/importlog/preview.html", context)

    def _start(self, request, token, pending, tmp_path, mapping):

        try:
            if tmp_path is not None:
                with tmp_path.open("rb") as handle:
                    log = start_import(
                        upload=File(handle, name=pending["original_name"]),
                        source=pending["source"],
                        mapping=mapping,
                        assign=pending["assign"],
                        by=request.user,
                    )
            else:
                log = start_import(
                    sheet_url=pending["sheet_url"],
                    source=pending["source"],
                    mapping=mapping,
                    assign=pending["assign"],
                    by=request.user,
                )
        except ImportFileError as exc:
            for reason in error_messages(exc):
                self.message_user(request, reason, messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:leads_importlog_preview", args=[token])
            )
        imports = request.session.get(SESSION_IMPORTS, {})
        imports.pop(token, None)
        request.session[SESSION_IMPORTS] = imports
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        self.message_user(
            request,
            gettext("The import has started; this page shows its progress."),
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:leads_importlog_change", args=[log.pk])
        )
