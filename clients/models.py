import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm_project.models import TimeStamped, staff_field
from crm_project.phones import normalize_phone, validate_phone
from services.models import Contraindication

REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(8))


class Tag(TimeStamped):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#6c757d",
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a hex colour like #1abc9c."))
        ],
    )

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    PHONE = "phone", _("Phone call")


class ClientQuerySet(models.QuerySet):
    def search_phone(self, raw: str):
        """Clients whose phone equals ``raw`` typed in any format (an index lookup)."""
        phone = normalize_phone(raw)
        return self.filter(phone=phone) if phone else self.none()


class Language(models.TextChoices):
    """Languages we write to clients in: a client's, a template's, a message's."""

    ENGLISH = "en", _("English")
    SPANISH = "es", _("Spanish")


class Client(TimeStamped):
    class Stage(models.TextChoices):
        LEAD = "lead", _("Lead")
        NEW = "new", _("New")
        ACTIVE = "active", _("Active")
        VIP = "vip", _("VIP")
        AT_RISK = "at_risk", _("At risk")
        CHURNED = "churned", _("Churned")

    Language = Language  # Client.Language, as callers have always spelt it

    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(
        _("phone"),
        max_length=20,
        blank=True,
        help_text=_("Stored in E.164, e.g. +14155550123."),
    )
    email = models.EmailField(_("email"), blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    address = models.TextField(_("address"), blank=True)

    # Medical information: visible only with the clients.view_medical_info permission.
    medical_history = models.TextField(_("medical history"), blank=True)
    allergies = models.TextField(_("allergies"), blank=True)
    conditions = models.ManyToManyField(
        Contraindication,
        verbose_name=_("conditions"),
        related_name="clients",
        blank=True,
        help_text=_(
            "Booking a service contraindicated for one of these needs an override."
        ),
    )
    emergency_contact_name = models.CharField(
        _("emergency contact name"), max_length=150, blank=True
    )
    emergency_contact_phone = models.CharField(
        _("emergency contact phone"), max_length=20, blank=True
    )

    preferred_language = models.CharField(
        _("preferred language"),
        max_length=5,
        choices=Language.choices,
        default=Language.ENGLISH,
    )
    preferred_channel = models.CharField(
        _("preferred contact channel"),
        max_length=10,
        choices=Channel.choices,
        default=Channel.EMAIL,
    )

    referral_code = models.CharField(
        _("referral code"),
        max_length=12,
        unique=True,
        default=new_referral_code,
        editable=False,
    )
    referred_by = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referrals",
    )
    tags = models.ManyToManyField(
        Tag, verbose_name=_("tags"), related_name="clients", blank=True
    )
    acquisition_source = models.CharField(
        _("came from"),
        max_length=20,
        blank=True,
        help_text=_("The lead source this client was converted from (e.g. instagram)."),
    )

    # Figures: denormalised from appointments and payments by clients.services.
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=10,
        choices=Stage.choices,
        default=Stage.LEAD,
        editable=False,
    )
    total_visits = models.PositiveIntegerField(
        _("total visits"), default=0, editable=False
    )
    first_visit_at = models.DateTimeField(
        _("first visit"), null=True, blank=True, editable=False
    )
    last_visit_at = models.DateTimeField(
        _("last visit"), null=True, blank=True, editable=False
    )
    total_spent = models.DecimalField(
        _("total spent"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
    )
    lifetime_value = models.DecimalField(
        _("lifetime value"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        editable=False,
        help_text=_(
            "Total spent plus the average monthly spend since the first payment "
            "(over at least 3 months), projected over the next 12 months and "
            "weighted by lifecycle stage: VIP and active 100%, new 50%, at risk "
            "25%, churned and lead 0%."
        ),
    )
    rfm_score = models.PositiveSmallIntegerField(
        _("RFM score"),
        default=0,
        editable=False,
        help_text=_(
            "0-100 from the recency of the last visit, and the visits and spend "
            "over the last 365 days."
        ),
    )
    figures_updated_at = models.DateTimeField(
        _("figures updated"), null=True, editable=False
    )

    objects = ClientQuerySet.as_manager()

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["-created_at"]
        permissions = [("view_medical_info", _("Can view medical information"))]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=~Q(phone=""), name="client_phone_unique"
            ),
            models.UniqueConstraint(
                Lower("email"), condition=~Q(email=""), name="client_email_unique"
            ),
            models.CheckConstraint(
                condition=Q(rfm_score__lte=100), name="client_rfm_score_max_100"
            ),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="client_name_idx"),
            models.Index(fields=["lifecycle_stage"], name="client_stage_idx"),
            models.Index(fields=["-created_at"], name="client_created_idx"),
            models.Index(fields=["last_visit_at"], name="client_last_visit_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs) -> None:
        """Store contacts in their one comparable form, whatever path saves."""
        self.email = (self.email or "").strip().lower()
        for field in ("phone", "emergency_contact_phone"):
            raw = getattr(self, field)
            if raw:
                # An invalid number is left as typed; forms reject it in clean().
                setattr(self, field, normalize_phone(raw) or raw)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("admin:clients_client_change", args=[self.pk])

    def clean(self) -> None:
        errors = {}
        for field in ("phone", "emergency_contact_phone"):
            try:
                setattr(self, field, validate_phone(getattr(self, field)))
            except ValidationError as error:
                errors[field] = error.messages
        self.email = (self.email or "").strip().lower()
        if errors:
            raise ValidationError(errors)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def has_marketing_consent(self, channel: str) -> bool:
        return bool(getattr(self, f"consent_{channel}", False))


class ClientNoteQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Public notes, and the private notes the user wrote."""
        return self.filter(Q(private=False) | Q(author=user))


class ClientNote(TimeStamped):
    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="client_notes",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    body = models.TextField(_("note"))
    pinned = models.BooleanField(_("pinned"), default=False)
    private = models.BooleanField(
        _("private"),
        default=False,
        help_text=_("Only the author can see a private note."),
    )

    objects = ClientNoteQuerySet.as_manager()

    class Meta:
        verbose_name = _("client note")
        verbose_name_plural = _("client notes")
        ordering = ["-pinned", "-created_at"]
        indexes = [
            models.Index(fields=["client", "-created_at"], name="note_client_idx")
        ]

    def __str__(self) -> str:
        return self.body[:60]


class Interaction(TimeStamped):
    class Type(models.TextChoices):
        CALL = "call", _("Call")
        MESSAGE = "message", _("Message")
        MEETING = "meeting", _("Meeting")
        VISIT = "visit", _("Visit")
        COMPLAINT = "complaint", _("Complaint")
        OTHER = "other", _("Other")

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class ChannelChoice(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        WHATSAPP = "whatsapp", _("WhatsApp")
        IN_PERSON = "in_person", _("In person")
        SOCIAL = "social", _("Social media")

    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="interactions",
    )
    type = models.CharField(_("type"), max_length=12, choices=Type.choices)
    channel = models.CharField(
        _("channel"), max_length=12, choices=ChannelChoice.choices
    )
    direction = models.CharField(
        _("direction"),
        max_length=10,
        choices=Direction.choices,
        default=Direction.OUTBOUND,
    )
    subject = models.CharField(_("subject"), max_length=200)
    outcome = models.TextField(_("outcome"), blank=True)
    handled_by = staff_field(_("handled by"))
    occurred_at = models.DateTimeField(_("when"))
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(
                fields=["client", "-occurred_at"], name="interaction_client_idx"
            ),
            models.Index(fields=["follow_up_on"], name="interaction_follow_up_idx"),
        ]

    def __str__(self) -> str:
        return self.subject
