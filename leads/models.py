from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clients.models import Client
from crm_project.models import TimeStamped, staff_field
from crm_project.status import StatusHistory, StatusTracked


class Source(models.TextChoices):
    INSTAGRAM = "instagram", _("Instagram")
    FACEBOOK = "facebook", _("Facebook")
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    CALL_TRACKING = "call_tracking", _("Call tracking")
    LANDING_PAGE = "landing_page", _("Landing page")
    GOOGLE_SHEETS = "google_sheets", _("Google Sheets")
    EXCEL = "excel", _("Excel")
    CSV = "csv", _("CSV")
    REFERRAL = "referral", _("Referral")
    WALK_IN = "walk_in", _("Walk-in")
    OTHER = "other", _("Other")


class LeadStatus(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    INTERESTED = "interested", _("Interested")
    TRIAL_SCHEDULED = "trial_scheduled", _("Trial scheduled")
    TRIAL_ATTENDED = "trial_attended", _("Trial attended")
    CONVERTED = "converted", _("Converted")
    LOST = "lost", _("Lost")


# Statuses in which a lead still needs a salesperson's work.
OPEN_STATUSES = frozenset(
    {
        LeadStatus.NEW,
        LeadStatus.CONTACTED,
        LeadStatus.INTERESTED,
        LeadStatus.TRIAL_SCHEDULED,
        LeadStatus.TRIAL_ATTENDED,
    }
)


class LeadTransitionError(ValidationError):
    """A converted lead is a client now: its status stays converted."""


class LeadQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def assigned_to(self, user):
        return self.filter(assigned_to=user)

    def matching(self, *, phone: str = "", email: str = ""):
        """Leads with the normalised phone or the lower-cased email (index lookups)."""
        condition = Q()
        if phone:
            condition |= Q(phone=phone)
        if email:
            condition |= Q(email_lower=email.lower())
        if not condition:
            return self.none()
        return self.annotate(email_lower=Lower("email")).filter(condition)


class Lead(StatusTracked, TimeStamped):
    """A prospective client, from an import, a webhook or the front desk.

    One person is one lead: the normalised phone and the lower-cased email are each
    unique, so imports and webhooks that race cannot create the same person twice.
    """

    Status = LeadStatus
    Source = Source

    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, help_text=_("E.164, e.g. +14155550123.")
    )
    email = models.EmailField(_("email"), blank=True)
    invalid_contact = models.CharField(
        _("invalid contact details"),
        max_length=255,
        blank=True,
        help_text=_("A phone or email as received, when it was not valid."),
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    campaign_name = models.CharField(_("campaign"), max_length=255, blank=True)
    ad_name = models.CharField(_("ad"), max_length=255, blank=True)
    form_name = models.CharField(_("form"), max_length=255, blank=True)
    utm_source = models.CharField("utm_source", max_length=255, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=255, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=255, blank=True)
    utm_term = models.CharField("utm_term", max_length=255, blank=True)
    utm_content = models.CharField("utm_content", max_length=255, blank=True)
    external_id = models.CharField(
        _("external id"),
        max_length=255,
        blank=True,
        help_text=_("The lead's id at its source (a Meta lead id, a call id...)."),
    )
    received_at = models.DateTimeField(
        _("received"),
        default=timezone.now,
        help_text=_("When the source took the lead (a form's created time)."),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW
    )
    lost_reason = models.CharField(_("lost reason"), max_length=255, blank=True)
    assigned_to = staff_field(
        _("salesperson"),
        related_name="leads",
        db_index=False,  # lead_owner_idx leads with it
    )
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    first_contact_due_at = models.DateTimeField(
        _("first contact due"), null=True, blank=True
    )
    notes = models.TextField(_("notes"), blank=True)
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        help_text=_("The client this lead converted into."),
    )
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    import_log = models.ForeignKey(
        "ImportLog",
        verbose_name=_("created by import"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        db_index=False,  # lead_import_idx
        # No database constraint: checking it would cost a lookup of the log for
        # every imported row (a tenth of a bulk import's time). The pointer only
        # records provenance (the log's page, "revert"); deleting a log goes through
        # the ORM, which still sets it to NULL.
        db_constraint=False,
    )

    objects = LeadQuerySet.as_manager()

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-received_at", "-id"]
        permissions = [("view_all_leads", _("Can see every salesperson's leads"))]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=~Q(phone=""), name="lead_phone_unique"
            ),
            models.UniqueConstraint(
                Lower("email"), condition=~Q(email=""), name="lead_email_unique"
            ),
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="lead_source_external_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""), name="lead_has_phone_or_email"
            ),
        ]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="lead_recent_idx"),
            models.Index(fields=["assigned_to", "status"], name="lead_owner_idx"),
            models.Index(
                fields=["status", "first_contact_due_at"], name="lead_due_idx"
            ),
            models.Index(fields=["import_log"], name="lead_import_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.phone or self.email

    def get_absolute_url(self) -> str:
        return reverse("admin:leads_lead_change", args=[self.pk])

    def check_transition(self, old: str, new: str) -> None:
        if old == LeadStatus.CONVERTED:
            raise LeadTransitionError(
                _("This lead was converted into a client; its status stays converted."),
                code="converted_is_final",
            )

    @property
    def is_overdue(self) -> bool:
        return bool(
            self.status == LeadStatus.NEW
            and self.first_contact_due_at
            and self.first_contact_due_at < timezone.now()
        )


class LeadStatusHistory(StatusHistory):
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="history",
        db_index=False,  # lead_history_idx leads with it
    )
    from_status = models.CharField(
        _("from"), max_length=20, choices=LeadStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=20, choices=LeadStatus.choices)
    # As StatusHistory's, indexed only where set: imports and webhooks write a
    # creation row per lead with nobody in it.
    changed_by = staff_field(_("changed by"), db_index=False)

    class Meta(StatusHistory.Meta):
        verbose_name = _("lead status change")
        verbose_name_plural = _("lead status history")
        indexes = [
            models.Index(fields=["lead", "changed_at"], name="lead_history_idx"),
            models.Index(
                fields=["changed_by"],
                condition=Q(changed_by__isnull=False),
                name="lead_history_by_idx",
            ),
        ]


class ImportLog(TimeStamped):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        # Contexts of their own: in Spanish an import ("importación") is feminine.
        DONE = "done", pgettext_lazy("import status", "Done")
        FAILED = "failed", pgettext_lazy("import status", "Failed")
        REVERTED = "reverted", pgettext_lazy("import status", "Reverted")

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        XLSX = "xlsx", _("Excel (XLSX)")
        GOOGLE_SHEETS = "google_sheets", _("Google Sheets")

    class Assign(models.TextChoices):
        NONE = "none", _("Leave unassigned")
        ROUND_ROBIN = "round_robin", _("Round-robin among active salespeople")

    file = models.FileField(_("file"), upload_to="imports/%Y/%m/", blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    sheet_url = models.URLField(_("Google Sheets link"), max_length=500, blank=True)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, blank=True)
    format = models.CharField(_("format"), max_length=15, choices=Format.choices)
    encoding = models.CharField(_("encoding"), max_length=30, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    mapping = models.JSONField(
        _("column mapping"),
        default=dict,
        blank=True,
        help_text=_("Lead field for each column header."),
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    assign = models.CharField(
        _("assignment"), max_length=15, choices=Assign.choices, default=Assign.NONE
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    created_by = staff_field(_("imported by"))
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("leads created"), default=0)
    duplicate_in_file_count = models.PositiveIntegerField(
        _("duplicates within the file"), default=0
    )
    duplicate_existing_count = models.PositiveIntegerField(
        _("duplicates of existing leads"), default=0
    )
    bad_row_count = models.PositiveIntegerField(_("bad rows"), default=0)
    report = models.FileField(
        _("per-row report"), upload_to="import-reports/", blank=True
    )
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    reverted_at = models.DateTimeField(_("reverted"), null=True, blank=True)
    reverted_count = models.PositiveIntegerField(_("leads removed"), default=0)

    class Meta:
        verbose_name = _("lead import")
        verbose_name_plural = _("lead imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["file_sha256"], name="import_sha_idx")]

    def __str__(self) -> str:
        return self.original_name or self.sheet_url or f"#{self.pk}"

    @property
    def progress_percent(self) -> int:
        if self.status in (self.Status.DONE, self.Status.REVERTED):
            return 100
        if not self.total_rows:
            return 0
        return min(100, round(self.processed_rows * 100 / self.total_rows))

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class LeadFollowUp(TimeStamped):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        OVERDUE = "overdue", _("Overdue")

    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        related_name="follow_ups",
    )
    due_at = models.DateTimeField(_("due"))
    note = models.CharField(_("note"), max_length=255, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    assigned_to = staff_field(
        _("salesperson"),
        related_name="lead_follow_ups",
        db_index=False,  # followup_owner_idx leads with it
    )
    reminder_count = models.PositiveSmallIntegerField(_("reminders sent"), default=0)
    last_reminded_at = models.DateTimeField(_("last reminded"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    completed_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_by = staff_field(_("created by"))
    # A new lead's first-contact deadline lives on the lead; this row is written
    # only when the deadline is missed (see services.open_missed_first_contacts).
    first_contact = models.BooleanField(
        _("first contact"),
        default=False,
        editable=False,
        help_text=_("Opened by the follow-up job when a new lead's deadline passed."),
    )

    class Meta:
        verbose_name = _("lead follow-up")
        verbose_name_plural = _("lead follow-ups")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(first_contact=True),
                name="followup_one_first_contact",
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="followup_due_idx"),
            models.Index(fields=["assigned_to", "status"], name="followup_owner_idx"),
        ]

    def __str__(self) -> str:
        return self.note or str(self.lead)


class RoundRobinCursor(models.Model):
    """Who got the last automatically assigned lead; locked while the next is chosen."""

    name = models.CharField(max_length=50, unique=True)
    last_user_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("round-robin cursor")
        verbose_name_plural = _("round-robin cursors")

    def __str__(self) -> str:
        return self.name


class WebhookSecret(TimeStamped):
    """Credentials a webhook source signs or authenticates with, set in the admin.

    Settings (LEADS_WEBHOOKS) are used for a source that has no active row here.
    """

    class Hook(models.TextChoices):
        META = "meta", _("Meta Lead Ads")
        TELEGRAM = "telegram", _("Telegram bot")
        WHATSAPP = "whatsapp", _("WhatsApp Cloud API")
        LANDING_PAGE = "landing_page", _("Landing page form")
        CALL_TRACKING = "call_tracking", _("Call tracking")

    hook = models.CharField(
        _("webhook"), max_length=20, choices=Hook.choices, unique=True
    )
    secret = models.CharField(
        _("secret"),
        max_length=255,
        help_text=_(
            "Meta/WhatsApp: the app secret; Telegram: the bot's secret token; "
            "landing page and call tracking: the API key."
        ),
    )
    verify_token = models.CharField(
        _("verify token"),
        max_length=255,
        blank=True,
        help_text=_("Meta/WhatsApp: the token the subscription challenge carries."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("webhook secret")
        verbose_name_plural = _("webhook secrets")

    def __str__(self) -> str:
        return self.get_hook_display()


class WebhookDelivery(models.Model):
    """An accepted webhook payload, kept as received for audit."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("Lead created")
        DUPLICATE = "duplicate", _("Duplicate")
        MERGED = "merged", _("Matched an existing lead")
        IGNORED = "ignored", _("Nothing to import")

    hook = models.CharField(
        _("webhook"), max_length=20, choices=WebhookSecret.Hook.choices
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    external_id = models.CharField(_("external id"), max_length=255, blank=True)
    payload = models.JSONField(_("payload"))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(
        _("sender address"), null=True, blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("lead"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deliveries",
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["hook", "external_id"], name="delivery_external_idx"),
            models.Index(fields=["-received_at", "-id"], name="delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_hook_display()} {self.external_id}"
