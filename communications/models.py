"""The outbox (Message), its templates, and what each client agreed to receive.

Every outbound email, SMS or WhatsApp message is one ``Message`` row: written by
``communications.services.enqueue_message(s)``, sent by ``send_due_messages``, and
kept as the log afterwards. Nothing else sends messages.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clients.models import Language
from crm_project.models import TimeStamped, staff_field


class MessageKind(models.TextChoices):
    APPOINTMENT_REMINDER = "appointment_reminder", _("Appointment reminder")
    APPOINTMENT_CONFIRMATION = "appointment_confirmation", _("Appointment confirmation")
    PACKAGE_EXPIRY = "package_expiry", _("Package expiry")
    BIRTHDAY = "birthday", _("Birthday greeting")
    REACTIVATION = "reactivation", _("Reactivation")
    POST_VISIT_SURVEY = "post_visit_survey", _("Post-visit survey")
    TRIAL_REMINDER = "trial_reminder", _("Trial lesson reminder")
    TRIAL_FOLLOW_UP = "trial_follow_up", _("Trial lesson follow-up (to staff)")
    FOLLOW_UP_REMINDER = "follow_up_reminder", _("Lead follow-up reminder (to staff)")
    ESCALATION = "escalation", _("Escalation (to managers)")
    WELCOME = "welcome", _("Welcome")
    CAMPAIGN = "campaign", _("Campaign")
    ONE_OFF = "one_off", _("One-off message")


# The one place that says which kinds are marketing: they need the recipient's consent
# for the channel and count against the frequency caps. Every other kind is
# transactional (about something the client booked or bought, or a note to staff).
MARKETING_KINDS: frozenset[str] = frozenset(
    {MessageKind.BIRTHDAY, MessageKind.REACTIVATION, MessageKind.CAMPAIGN}
)


def is_marketing(kind: str) -> bool:
    return kind in MARKETING_KINDS


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")


class Reason(models.TextChoices):
    """Why a message was skipped, deferred or failed."""

    OPTED_OUT = "opted_out", _("Opted out")
    NO_CONSENT = "no_consent", _("No marketing consent")
    CAPPED = "capped", _("Frequency cap reached")
    QUIET_HOURS = "quiet_hours", _("Quiet hours")
    NO_ADDRESS = "no_address", _("No address for the channel")
    TEMPLATE_MISSING = "template_missing", _("No template")
    TEMPLATE_ERROR = "template_error", _("Template error")
    INVALID_ADDRESS = "invalid_address", _("Address rejected")
    REJECTED = "rejected", _("Rejected by the provider")
    ERROR = "error", _("Error (retries exhausted)")
    CANCELLED = "cancelled", _("Campaign cancelled")
    TOO_LATE = "too_late", _("Too late: the appointment or lesson had begun")


class MessageQuerySet(models.QuerySet):
    def due(self, now):
        """Queued or deferred rows whose time has come (the sender's claim query)."""
        return self.filter(
            status__in=[Message.Status.QUEUED, Message.Status.DEFERRED],
            next_attempt_at__lte=now,
        )

    def for_recipient(self, *, client=None, lead=None, user=None):
        if client is not None:
            return self.filter(client=client)
        if lead is not None:
            return self.filter(lead=lead)
        return self.filter(user=user)


class Message(TimeStamped):
    """One outbound message: the outbox row while pending, the log entry after.

    Exactly one recipient (client, lead or staff user). ``idempotency_key`` is unique:
    enqueueing the same kind for the same recipient, object and period again finds the
    existing row instead of writing a second.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DEFERRED = "deferred", _("Deferred")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=30, choices=MessageKind.choices)
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,  # the first column of message_caps_idx below
    )
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,  # the first column of message_lead_idx below
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,  # the first column of message_user_idx below
    )
    to_address = models.CharField(
        _("to"),
        max_length=254,
        blank=True,
        help_text=_("The email address or E.164 phone number when it was enqueued."),
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body_text = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    reason = models.CharField(
        _("reason"), max_length=20, choices=Reason.choices, blank=True
    )
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    send_after = models.DateTimeField(_("send after"))
    send_before = models.DateTimeField(
        _("send before"),
        null=True,
        blank=True,
        help_text=_(
            "When what it reminds of begins: from then on it is skipped as too late, "
            "and quiet hours that would hold it until then skip it instead."
        ),
    )
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True)
    provider_id = models.CharField(_("provider id"), max_length=255, blank=True)
    # Four places: providers price one SMS in fractions of a cent.
    cost = models.DecimalField(
        _("cost"), max_digits=10, decimal_places=4, null=True, blank=True
    )
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("about (type)"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the first column of message_about_idx
    )
    object_id = models.PositiveBigIntegerField(_("about (id)"), null=True, blank=True)
    about = GenericForeignKey("content_type", "object_id")
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    # Unique by the constraint below, not unique=True: that would add a second
    # (pattern-matching) index nobody reads, and every insert pays for each index.
    idempotency_key = models.CharField(_("idempotency key"), max_length=255)
    created_by = staff_field(_("created by"))

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(client__isnull=False, lead__isnull=True, user__isnull=True)
                    | Q(client__isnull=True, lead__isnull=False, user__isnull=True)
                    | Q(client__isnull=True, lead__isnull=True, user__isnull=False)
                ),
                name="message_exactly_one_recipient",
                violation_error_message=_(
                    "A message goes to exactly one client, lead or staff member."
                ),
            ),
            models.CheckConstraint(
                condition=Q(attempts__gte=0), name="message_attempts_not_negative"
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"], name="message_unique_idempotency_key"
            ),
        ]
        indexes = [
            # The sender's claim: due queued/deferred rows in order.
            models.Index(fields=["status", "next_attempt_at"], name="message_due_idx"),
            # The caps: what a client got on a channel since a moment.
            models.Index(
                fields=["client", "channel", "sent_at"], name="message_caps_idx"
            ),
            models.Index(fields=["lead", "-created_at"], name="message_lead_idx"),
            models.Index(fields=["user", "-created_at"], name="message_user_idx"),
            models.Index(fields=["-created_at"], name="message_created_idx"),
            models.Index(fields=["to_address"], name="message_to_idx"),
            models.Index(
                fields=["content_type", "object_id"], name="message_about_idx"
            ),
            # Delivery callbacks find their message by the provider's id (Twilio's
            # MessageSid); unsent rows have none and stay out of the index.
            models.Index(
                fields=["provider_id"],
                condition=~Q(provider_id=""),
                name="message_provider_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.to_address or '—'}"

    @property
    def recipient(self):
        return self.client or self.lead or self.user

    @property
    def is_marketing(self) -> bool:
        return is_marketing(self.kind)


class MessageTemplate(TimeStamped):
    """What one kind of message says on one channel in one language.

    Subject and bodies are Django template syntax over the variables documented in
    ``communications.rendering`` (client, lead, recipient_name, appointment,
    purchase/package, trial, business, unsubscribe_url, plus the caller's context).
    """

    kind = models.CharField(_("kind"), max_length=30, choices=MessageKind.choices)
    name = models.CharField(
        _("name"),
        max_length=150,
        blank=True,
        help_text=_(
            "Campaign templates only: campaigns choose their template by name, and "
            "each client gets the version in their language. Empty for the other "
            "kinds, which have one template per channel and language."
        ),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    subject = models.CharField(
        _("subject"),
        max_length=255,
        blank=True,
        help_text=_("Email only; SMS and WhatsApp have no subject."),
    )
    body_text = models.TextField(_("text"))
    body_html = models.TextField(
        _("HTML"), blank=True, help_text=_("Email only; empty sends text only.")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["kind", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "channel", "language"],
                condition=~Q(kind="campaign"),
                name="message_template_unique_kind_channel_language",
                violation_error_message=_(
                    "A template for this kind, channel and language exists already."
                ),
            ),
            models.UniqueConstraint(
                fields=["name", "channel", "language"],
                condition=Q(kind="campaign"),
                name="message_template_unique_campaign_name",
                violation_error_message=_(
                    "A campaign template with this name, channel and language exists "
                    "already."
                ),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} · {self.get_channel_display()} · "
            f"{self.language}"
        )

    def clean(self) -> None:
        """Each part compiles and uses no medical or private client data
        (``rendering.check_parts``, which the shipped-template loader calls too)."""
        from .rendering import check_parts

        check_parts(self.subject, self.body_text, self.body_html)


class ContactPreferences(TimeStamped):
    """What a client agreed to receive, and when and how.

    A client without a row has no marketing consent on any channel. Transactional
    messages need no consent; opt-outs (OptOut rows) apply to every kind.
    """

    client = models.OneToOneField(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="contact_preferences",
    )
    marketing_email = models.BooleanField(_("marketing by email"), default=False)
    marketing_email_at = models.DateTimeField(
        _("email consent given"), null=True, blank=True
    )
    marketing_sms = models.BooleanField(_("marketing by SMS"), default=False)
    marketing_sms_at = models.DateTimeField(
        _("SMS consent given"), null=True, blank=True
    )
    marketing_whatsapp = models.BooleanField(_("marketing by WhatsApp"), default=False)
    marketing_whatsapp_at = models.DateTimeField(
        _("WhatsApp consent given"), null=True, blank=True
    )
    preferred_channel = models.CharField(
        _("preferred channel"),
        max_length=10,
        choices=Channel.choices,
        blank=True,
        help_text=_("Empty: the channel on the client's record."),
    )
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=5,
        choices=Language.choices,
        blank=True,
        help_text=_("Empty: the language on the client's record."),
    )
    quiet_hours_start = models.TimeField(
        _("quiet hours from"),
        null=True,
        blank=True,
        help_text=_("Empty: the studio's default (COMMUNICATIONS_QUIET_HOURS_START)."),
    )
    quiet_hours_end = models.TimeField(
        _("quiet hours until"),
        null=True,
        blank=True,
        help_text=_("Empty: the studio's default (COMMUNICATIONS_QUIET_HOURS_END)."),
    )

    class Meta:
        verbose_name = _("contact preferences")
        verbose_name_plural = _("contact preferences")

    def __str__(self) -> str:
        return str(self.client)

    def save(self, *args, **kwargs) -> None:
        """Keep each consent's date with it, whatever path saves (admin, inline,
        service): given now if newly given, cleared when withdrawn."""
        for channel in Channel.values:
            if not getattr(self, f"marketing_{channel}"):
                setattr(self, f"marketing_{channel}_at", None)
            elif getattr(self, f"marketing_{channel}_at") is None:
                setattr(self, f"marketing_{channel}_at", timezone.now())
        super().save(*args, **kwargs)

    def has_marketing_consent(self, channel: str) -> bool:
        return bool(getattr(self, f"marketing_{channel}", False))


class OptOut(TimeStamped):
    """A client or lead who asked not to receive one kind of message.

    ``channel`` empty means every channel. Written by ``record_opt_out`` (the
    unsubscribe link, staff); at most one row per recipient, kind and channel.
    """

    class Source(models.TextChoices):
        UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
        ONE_CLICK = "one_click", _("One-click unsubscribe (mail client)")
        STAFF = "staff", _("Staff")
        REPLY = "reply", _("Reply (STOP)")

    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="opt_outs",
    )
    lead = models.ForeignKey(
        "leads.Lead",
        verbose_name=_("lead"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="opt_outs",
    )
    kind = models.CharField(_("kind"), max_length=30, choices=MessageKind.choices)
    # Empty (not NULL, as Django stores "no value" in text fields): every channel.
    channel = models.CharField(
        _("channel"),
        max_length=10,
        choices=Channel.choices,
        blank=True,
        help_text=_("Empty: every channel."),
    )
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.STAFF
    )
    # The message whose unsubscribe link recorded it: counts a campaign's unsubscribes.
    message = models.ForeignKey(
        Message,
        verbose_name=_("from message"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opt_outs",
    )
    created_by = staff_field(_("recorded by"))

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(client__isnull=False, lead__isnull=True)
                    | Q(client__isnull=True, lead__isnull=False)
                ),
                name="optout_client_or_lead",
                violation_error_message=_("Choose a client or a lead, not both."),
            ),
            models.UniqueConstraint(
                fields=["client", "kind", "channel"],
                condition=Q(client__isnull=False),
                name="optout_unique_client_kind_channel",
                violation_error_message=_(
                    "This client has already opted out of this kind on this channel."
                ),
            ),
            models.UniqueConstraint(
                fields=["lead", "kind", "channel"],
                condition=Q(lead__isnull=False),
                name="optout_unique_lead_kind_channel",
                violation_error_message=_(
                    "This lead has already opted out of this kind on this channel."
                ),
            ),
        ]

    def __str__(self) -> str:
        channel = self.get_channel_display() if self.channel else _("every channel")
        return f"{self.client or self.lead}: {self.get_kind_display()} ({channel})"


# --- Phase 2: job runs, scheduled one-off messages, segments, campaigns ---------------


class JobRun(models.Model):
    """One run of an automated job: when, and what it did (for staff and for drift).

    Written by ``communications.jobs.run_job``; ``skipped`` holds the count per reason
    (``{"opted_out": 3, "capped": 1}``), ``duplicates`` the messages an earlier run had
    already enqueued. A run whose worker died stays ``running`` until
    ``sweep_abandoned_runs`` marks it ``abandoned``, with the reason in ``error``.
    """

    class Job(models.TextChoices):
        APPOINTMENT_REMINDERS = "appointment_reminders", _("Appointment reminders")
        PACKAGE_EXPIRY = "package_expiry", _("Package expiry warnings")
        BIRTHDAYS = "birthdays", _("Birthday greetings")
        REACTIVATION = "reactivation", _("Reactivation")
        POST_VISIT_SURVEYS = "post_visit_surveys", _("Post-visit surveys")
        SCHEDULED_MESSAGES = "scheduled_messages", _("Scheduled messages")
        CAMPAIGN = "campaign", _("Campaign")

    class Status(models.TextChoices):
        RUNNING = "running", pgettext_lazy("job run status", "Running")
        DONE = "done", pgettext_lazy("job run status", "Done")
        FAILED = "failed", pgettext_lazy("job run status", "Failed")
        # Still running long after any run could: its worker was killed.
        ABANDONED = "abandoned", pgettext_lazy("job run status", "Abandoned")

    job = models.CharField(_("job"), max_length=30, choices=Job.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    enqueued = models.PositiveIntegerField(_("enqueued"), default=0)
    duplicates = models.PositiveIntegerField(
        _("already enqueued"),
        default=0,
        help_text=_("Messages an earlier run had already put in the outbox."),
    )
    skipped = models.JSONField(_("skipped, by reason"), default=dict, blank=True)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    error = models.TextField(_("error"), blank=True)
    triggered_by = staff_field(_("run by"), help_text=_("Empty: the schedule."))

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_idx")]

    def __str__(self) -> str:
        return f"{self.get_job_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


class ScheduledMessage(TimeStamped):
    """A message or a reminder staff scheduled for a client at a time.

    ``channel`` set: the text is sent to the client through the outbox when due.
    ``channel`` empty: a reminder for staff only (call the client, prepare a room...).
    Either way, once due it is listed on the admin index until someone marks it done.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", pgettext_lazy("scheduled message status", "Scheduled")
        DUE = "due", pgettext_lazy("scheduled message status", "Due")
        DONE = "done", pgettext_lazy("scheduled message status", "Done")
        CANCELLED = "cancelled", pgettext_lazy("scheduled message status", "Cancelled")

    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="scheduled_messages",
    )
    channel = models.CharField(
        _("channel"),
        max_length=10,
        choices=Channel.choices,
        blank=True,
        help_text=_("Empty: a reminder for staff, nothing is sent to the client."),
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("text"))
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    message = models.OneToOneField(
        Message,
        verbose_name=_("message sent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scheduled_from",
    )
    assigned_to = staff_field(
        _("for"),
        related_name="scheduled_messages",
        help_text=_("Who should see it when due; empty: all staff."),
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = staff_field(_("done by"))
    created_by = staff_field(_("created by"))

    class Meta:
        verbose_name = _("scheduled message")
        verbose_name_plural = _("scheduled messages")
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="scheduled_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.client} · {self.due_at:%Y-%m-%d %H:%M}"


class Segment(TimeStamped):
    """A saved set of criteria over clients; ``segment_clients(segment)`` applies it.

    Every criterion left empty matches everyone; the set ones all apply (AND).
    """

    name = models.CharField(_("name"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    min_visits = models.PositiveIntegerField(
        _("at least visits"), null=True, blank=True
    )
    min_spent = models.DecimalField(
        _("at least spent"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    min_days_since_last_visit = models.PositiveIntegerField(
        _("no visit for at least (days)"), null=True, blank=True
    )
    max_days_since_last_visit = models.PositiveIntegerField(
        _("visited within (days)"), null=True, blank=True
    )
    tags_included = models.ManyToManyField(
        "clients.Tag",
        verbose_name=_("with any of these tags"),
        blank=True,
        related_name="+",
    )
    tags_excluded = models.ManyToManyField(
        "clients.Tag",
        verbose_name=_("without any of these tags"),
        blank=True,
        related_name="+",
    )
    lifecycle_stages = models.JSONField(
        _("lifecycle stages"),
        default=list,
        blank=True,
        help_text=_("Empty: every stage."),
    )
    min_rfm = models.PositiveSmallIntegerField(_("RFM from"), null=True, blank=True)
    max_rfm = models.PositiveSmallIntegerField(_("RFM to"), null=True, blank=True)
    has_active_package = models.BooleanField(
        _("has an active package"),
        null=True,
        blank=True,
        help_text=_("Empty: either."),
    )
    services_used = models.ManyToManyField(
        "services.Service",
        verbose_name=_("used any of these services"),
        blank=True,
        related_name="+",
    )
    birthday_month = models.PositiveSmallIntegerField(
        _("birthday month"),
        null=True,
        blank=True,
        choices=[(m, m) for m in range(1, 13)],
    )
    created_by = staff_field(_("created by"))

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_rfm__isnull=True)
                | Q(max_rfm__isnull=True)
                | Q(min_rfm__lte=F("max_rfm")),
                name="segment_rfm_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Campaign(TimeStamped):
    """A message to every client of a segment, on one channel, now or at a time."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
        SCHEDULED = "scheduled", pgettext_lazy("campaign status", "Scheduled")
        SENDING = "sending", pgettext_lazy("campaign status", "Sending")
        SENT = "sent", pgettext_lazy("campaign status", "Sent")
        CANCELLED = "cancelled", pgettext_lazy("campaign status", "Cancelled")

    name = models.CharField(_("name"), max_length=150)
    template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("template"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    scheduled_at = models.DateTimeField(
        _("send at"), null=True, blank=True, help_text=_("Empty: when sent by hand.")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    throttle_per_minute = models.PositiveIntegerField(
        _("messages per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: as fast as the sender goes."),
    )
    targeted = models.PositiveIntegerField(_("targeted"), default=0)
    skipped = models.JSONField(_("skipped, by reason"), default=dict, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    created_by = staff_field(_("created by"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="campaign_due_idx")
        ]

    def __str__(self) -> str:
        return self.name


class CampaignChunk(models.Model):
    """One slice of a campaign's recipients, enqueued by one task.

    Written when the campaign starts (the segment's client ids, frozen then); the
    task ``send_campaign_chunk`` enqueues its messages and stamps ``done_at`` in the
    same transaction, so a second run of the task finds it done and does nothing.
    """

    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.CASCADE,
        related_name="chunks",
    )
    number = models.PositiveIntegerField(_("number"))
    # Position of the first client in the campaign: the throttle's slot offset.
    offset = models.PositiveIntegerField(_("offset"), default=0)
    client_ids = models.JSONField(_("client ids"), default=list)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign chunk")
        verbose_name_plural = _("campaign chunks")
        ordering = ["campaign", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "number"], name="campaign_chunk_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.number}"
