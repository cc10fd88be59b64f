"""The automated jobs in the admin: the Jobs page (schedule, last run, preview, run
now), the read-only log of job runs, and scheduled messages and staff reminders."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_celery_beat.models import PeriodicTask

from crm_project.admin_tools import admin_link
from crm_project.pagination import EstimatedCountPaginator

from ..jobs import JOBS, cancel_scheduled_message, mark_scheduled_message_done, run_job
from ..models import Channel, JobRun, Reason, ScheduledMessage
from .outbox import CHANNEL_ICONS, STATUS_COLOURS

RUN_COLOURS = {
    JobRun.Status.RUNNING: "info",
    JobRun.Status.DONE: "success",
    JobRun.Status.FAILED: "danger",
    JobRun.Status.ABANDONED: "warning",
}
SCHEDULED_COLOURS = {
    ScheduledMessage.Status.SCHEDULED: "secondary",
    ScheduledMessage.Status.DUE: "warning",
    ScheduledMessage.Status.DONE: "success",
    ScheduledMessage.Status.CANCELLED: "light",
}
PREVIEW_ROWS_SHOWN = 200


def skipped_text(skipped: dict) -> str:
    labels = dict(Reason.choices)
    return ", ".join(
        f"{labels.get(reason, reason)}: {count}" for reason, count in skipped.items()
    )


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """Every run of an automated job, written by ``run_job``: read-only."""

    list_display = [
        "started_at",
        "job",
        "status_badge",
        "duration",
        "enqueued",
        "duplicates",
        "skipped_by_reason",
        "failed",
        "run_by",
    ]
    list_filter = [
        "job",
        "status",
        "started_at",
        ("triggered_by", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["triggered_by"]
    # A run every minute adds up: no full count, no date hierarchy scan.
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [
        "job",
        "status",
        "started_at",
        "finished_at",
        "enqueued",
        "duplicates",
        "skipped",
        "failed",
        "error",
        "triggered_by",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        # A failed or abandoned run says why when pointed at (the run's page in full).
        return format_html(
            '<span class="badge badge-{}" title="{}">{}</span>',
            RUN_COLOURS.get(obj.status, "secondary"),
            obj.error,
            obj.get_status_display(),
        )

    @admin.display(description=_("duration"))
    def duration(self, obj):
        if obj.finished_at is None:
            return "—"
        seconds = (obj.finished_at - obj.started_at).total_seconds()
        return f"{seconds:.1f} s"

    @admin.display(description=_("skipped, by reason"))
    def skipped_by_reason(self, obj):
        return skipped_text(obj.skipped) or "—"

    @admin.display(description=_("run by"), ordering="triggered_by")
    def run_by(self, obj):
        return obj.triggered_by or _("schedule")

    # --- The Jobs page ---------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "jobs/",
                self.admin_site.admin_view(self.jobs_view),
                name="communications_jobrun_jobs",
            ),
            path(
                "jobs/<str:job>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="communications_jobrun_preview",
            ),
            path(
                "jobs/<str:job>/run/",
                self.admin_site.admin_view(self.run_view),
                name="communications_jobrun_run",
            ),
            *super().get_urls(),
        ]

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "changelist_url": reverse("admin:communications_jobrun_changelist"),
            "jobs_url": reverse("admin:communications_jobrun_jobs"),
            **extra,
        }

    def _job(self, job: str):
        if job not in JOBS:
            raise Http404(gettext("No such job."))
        return JOBS[job]

    def may_run(self, request) -> bool:
        # Running a job sends messages: those who may add job runs (owner, manager).
        return request.user.has_perm("communications.add_jobrun")

    def jobs_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        tasks = [task for job in JOBS.values() for task in job.tasks]
        schedules: dict[str, list] = {}
        for periodic in PeriodicTask.objects.filter(task__in=tasks).select_related(
            "crontab"
        ):
            schedules.setdefault(periodic.task, []).append(periodic)
        latest = JobRun.objects.filter(
            pk__in=JobRun.objects.values("job").annotate(last=Max("pk")).values("last")
        ).select_related("triggered_by")
        last_runs = {run.job: run for run in latest}
        rows = [
            {
                "name": name,
                "label": JobRun.Job(name).label,
                "description": job.description,
                "schedules": [p for task in job.tasks for p in schedules.get(task, [])],
                "last_run": last_runs.get(name),
                "last_colour": RUN_COLOURS.get(
                    getattr(last_runs.get(name), "status", None), "secondary"
                ),
                "last_skipped": skipped_text(last_runs[name].skipped)
                if name in last_runs
                else "",
            }
            for name, job in JOBS.items()
        ]
        context = self._context(
            request,
            title=gettext("Automated jobs"),
            rows=rows,
            may_run=self.may_run(request),
        )
        return TemplateResponse(request, "admin/communications/jobs.html", context)

    def preview_view(self, request, job: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        self._job(job)
        preview = run_job(job, preview=True)
        context = self._context(
            request,
            title=gettext("Preview: %(job)s") % {"job": JobRun.Job(job).label},
            job=job,
            preview=preview,
            counts=sorted(preview.counts.items()),
            rows=preview.rows[:PREVIEW_ROWS_SHOWN],
            more=max(len(preview.rows) - PREVIEW_ROWS_SHOWN, 0),
            may_run=self.may_run(request),
        )
        return TemplateResponse(
            request, "admin/communications/job_preview.html", context
        )

    def run_view(self, request, job: str):
        if request.method != "POST":
            return require_POST(lambda r: None)(request)
        if not self.may_run(request):
            raise PermissionDenied
        self._job(job)
        run = run_job(job, by=request.user)
        summary = gettext(
            "%(job)s: %(enqueued)d enqueued, %(duplicates)d already in the outbox, "
            "%(skipped)d skipped%(reasons)s."
        ) % {
            "job": run.get_job_display(),
            "enqueued": run.enqueued,
            "duplicates": run.duplicates,
            "skipped": run.skipped_total,
            "reasons": f" ({skipped_text(run.skipped)})" if run.skipped else "",
        }
        if run.status == JobRun.Status.FAILED:
            self.message_user(
                request,
                gettext("%(summary)s It failed: %(error)s")
                % {"summary": summary, "error": run.error},
                messages.ERROR,
            )
        else:
            self.message_user(request, summary, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:communications_jobrun_jobs"))


# --- Scheduled messages and staff reminders ---------------------------------------


class ScheduledMessageForm(forms.ModelForm):
    class Meta:
        model = ScheduledMessage
        fields = [
            "client",
            "channel",
            "due_at",
            "subject",
            "body",
            "assigned_to",
        ]

    def clean(self):
        cleaned = super().clean()
        client, channel = cleaned.get("client"), cleaned.get("channel")
        if client is not None and channel:
            address = client.email if channel == Channel.EMAIL else client.phone
            if not (address or "").strip():
                self.add_error(
                    "channel",
                    _("This client has no %(what)s for this channel.")
                    % {
                        "what": _("email address")
                        if channel == Channel.EMAIL
                        else _("phone number")
                    },
                )
        if cleaned.get("subject") and channel and channel != Channel.EMAIL:
            self.add_error("subject", _("Only an email has a subject."))
        return cleaned


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(admin.ModelAdmin):
    form = ScheduledMessageForm
    list_display = [
        "due_at",
        "client",
        "channel_badge",
        "text",
        "status_badge",
        "message_badge",
        "assigned_to",
        "created_by",
    ]
    list_filter = ["status", "channel", "due_at"]
    list_select_related = ["client", "message", "assigned_to", "created_by"]
    search_fields = [
        "client__first_name",
        "client__last_name",
        "client__email",
        "client__phone",
        "body",
    ]
    autocomplete_fields = ["client"]
    date_hierarchy = "due_at"
    actions = ["mark_done", "cancel"]
    list_per_page = 50

    def get_fields(self, request, obj=None):
        fields = ["client", "channel", "due_at", "subject", "body", "assigned_to"]
        if obj is not None:
            fields += ["status", "message_link", "done_at", "done_by", "created_by"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        info = ["status", "message_link", "done_at", "done_by", "created_by"]
        if obj.status != ScheduledMessage.Status.SCHEDULED:
            # Sent, acknowledged or cancelled: the record of what happened.
            return ["client", "channel", "due_at", "subject", "body", *info]
        return info

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assigned_to":
            from django.contrib.auth import get_user_model

            kwargs["queryset"] = get_user_model().objects.filter(
                is_staff=True, is_active=True
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description=_("channel"), ordering="channel")
    def channel_badge(self, obj):
        if not obj.channel:
            return format_html(
                '<span class="badge badge-light"><i class="fas fa-user-tie"></i> {}'
                "</span>",
                _("Staff reminder"),
            )
        return format_html(
            '<span class="badge badge-light"><i class="{}"></i> {}</span>',
            CHANNEL_ICONS.get(obj.channel, "fas fa-comment"),
            obj.get_channel_display(),
        )

    @admin.display(description=_("text"))
    def text(self, obj):
        body = obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"
        return f"{obj.subject} · {body}" if obj.subject else body

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="badge badge-{}">{}</span>',
            SCHEDULED_COLOURS.get(obj.status, "secondary"),
            obj.get_status_display(),
        )

    @admin.display(description=_("message"))
    def message_badge(self, obj):
        if obj.message is None:
            return "—"
        return format_html(
            '<a href="{}"><span class="badge badge-{}">{}</span></a>',
            reverse("admin:communications_message_change", args=[obj.message_id]),
            STATUS_COLOURS.get(obj.message.status, "secondary"),
            obj.message.get_status_display(),
        )

    @admin.display(description=_("message sent"))
    def message_link(self, obj):
        if obj.message is None:
            return "—"
        text = obj.message.get_status_display()
        if obj.message.reason:
            text = f"{text} ({obj.message.get_reason_display()})"
        return format_html("{} · {}", admin_link(obj.message), text)

    def _apply(self, request, queryset, service, done_text):
        done, refused = 0, []
        for scheduled in queryset.select_related("client"):
            try:
                service(scheduled, by=request.user)
                done += 1
            except ValidationError as exc:
                refused.append(f"{scheduled.client}: {' '.join(exc.messages)}")
        if done:
            self.message_user(
                request, done_text(done) % {"count": done}, messages.SUCCESS
            )
        if refused:
            self.message_user(
                request,
                ngettext(
                    "%(count)d skipped: %(reasons)s",
                    "%(count)d skipped: %(reasons)s",
                    len(refused),
                )
                % {"count": len(refused), "reasons": "; ".join(refused)},
                messages.WARNING,
            )

    @admin.action(description=_("Mark as done"), permissions=["change"])
    def mark_done(self, request, queryset):
        self._apply(
            request,
            queryset,
            mark_scheduled_message_done,
            lambda n: ngettext(
                "%(count)d message or reminder marked as done.",
                "%(count)d messages and reminders marked as done.",
                n,
            ),
        )

    @admin.action(description=_("Cancel"), permissions=["change"])
    def cancel(self, request, queryset):
        self._apply(
            request,
            queryset,
            cancel_scheduled_message,
            lambda n: ngettext(
                "%(count)d scheduled message cancelled.",
                "%(count)d scheduled messages cancelled.",
                n,
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/done/",
                self.admin_site.admin_view(self.done_view),
                name="communications_scheduledmessage_done",
            ),
            *super().get_urls(),
        ]

    def done_view(self, request, pk: int):
        """The dashboard's "Mark as done" button (POST), back where it came from."""
        if request.method != "POST":
            return require_POST(lambda r: None)(request)
        scheduled = get_object_or_404(ScheduledMessage, pk=pk)
        if not self.has_change_permission(request, scheduled):
            raise PermissionDenied
        try:
            mark_scheduled_message_done(scheduled, by=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("Marked as done: %(item)s") % {"item": scheduled},
                messages.SUCCESS,
            )
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}
        ):
            target = reverse("admin:index")
        return HttpResponseRedirect(target)
