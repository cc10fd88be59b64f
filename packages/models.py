from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from clients.models import Client
from crm_project.models import TimeStamped, staff_field
from services.models import Service

from .validators import validate_receipt


class Package(TimeStamped):
    """A bundle of sessions of one or more services, sold at one price."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), related_name="packages"
    )
    sessions = models.PositiveIntegerField(
        _("sessions"), validators=[MinValueValidator(1)]
    )
    min_sessions_per_week = models.PositiveSmallIntegerField(
        _("min sessions per week"), default=0
    )
    max_sessions_per_week = models.PositiveSmallIntegerField(
        _("max sessions per week"),
        null=True,
        blank=True,
        help_text=_("Bookings on a purchase beyond this in one week are refused."),
    )
    validity_days = models.PositiveIntegerField(
        _("valid for (days)"), validators=[MinValueValidator(1)]
    )
    price = models.DecimalField(
        _("price"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    combinable_in_one_visit = models.BooleanField(
        _("services combinable in one visit"),
        default=False,
        help_text=_(
            "A visit may use several of the package's services for one session."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions__gte=1), name="package_sessions_min_1"
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0), name="package_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(max_sessions_per_week__isnull=True)
                | Q(max_sessions_per_week__gte=F("min_sessions_per_week")),
                name="package_week_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def individual_value(self, services_total: Decimal | None = None) -> Decimal:
        """Sessions × the sum of the services' prices: the sessions bought one by one.

        Pass ``services_total`` when the caller has already summed the prices (a
        changelist annotation) to avoid a query.
        """
        if services_total is None:
            services_total = self.services.aggregate(total=models.Sum("price"))["total"]
        return (services_total or Decimal("0")) * self.sessions

    def saving(self, services_total: Decimal | None = None) -> Decimal:
        return self.individual_value(services_total) - self.price


class PackagePurchaseQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=PackagePurchase.Status.ACTIVE)

    def expiring_between(self, start, end):
        return self.active().filter(expires_on__gte=start, expires_on__lte=end)


class PackagePurchase(TimeStamped):
    class Status(models.TextChoices):
        # A context of their own: in Spanish a purchase ("compra") is feminine, a
        # client ("cliente activo") is not.
        ACTIVE = "active", pgettext_lazy("purchase status", "Active")
        EXHAUSTED = "exhausted", pgettext_lazy("purchase status", "Exhausted")
        EXPIRED = "expired", pgettext_lazy("purchase status", "Expired")
        CANCELLED = "cancelled", pgettext_lazy("purchase status", "Cancelled")

    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="purchases",
    )
    package = models.ForeignKey(
        Package,
        verbose_name=_("package"),
        on_delete=models.PROTECT,
        related_name="purchases",
    )
    price_paid = models.DecimalField(
        _("price paid"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    purchased_on = models.DateField(_("purchased on"))
    expires_on = models.DateField(_("expires on"))
    sessions_total = models.PositiveIntegerField(_("sessions"))
    sessions_used = models.PositiveIntegerField(_("sessions used"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    sold_by = staff_field(_("sold by"))
    notes = models.TextField(_("notes"), blank=True)

    objects = PackagePurchaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("package purchase")
        verbose_name_plural = _("package purchases")
        ordering = ["-purchased_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sessions_used__lte=F("sessions_total")),
                name="purchase_sessions_used_within_total",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__gte=F("purchased_on")),
                name="purchase_expires_after_purchase",
            ),
            models.CheckConstraint(
                condition=Q(price_paid__gte=0), name="purchase_price_not_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "expires_on"], name="purchase_status_expiry_idx"
            ),
            models.Index(
                fields=["client", "status"], name="purchase_client_status_idx"
            ),
            models.Index(fields=["-purchased_on", "-id"], name="purchase_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.package} · {self.client}"

    @property
    def sessions_remaining(self) -> int:
        return self.sessions_total - self.sessions_used


class Payment(TimeStamped):
    class Method(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Card")
        TRANSFER = "transfer", _("Bank transfer")
        OTHER = "other", _("Other")

    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="payments",
    )
    purchase = models.ForeignKey(
        PackagePurchase,
        verbose_name=_("package purchase"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    appointment = models.ForeignKey(
        "appointments.Appointment",
        verbose_name=_("appointment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    amount = models.DecimalField(
        _("amount"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    paid_at = models.DateTimeField(_("paid at"))
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    receipt = models.FileField(
        _("receipt"),
        upload_to="receipts/%Y/%m/",
        blank=True,
        validators=[validate_receipt],
        help_text=_("PDF, JPEG, PNG or WebP, up to 5 MB."),
    )
    received_by = staff_field(_("received by"))

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payment_amount_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "paid_at"], name="payment_client_idx"),
            models.Index(fields=["-paid_at", "-id"], name="payment_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {settings.CRM_CURRENCY} · {self.client}"
