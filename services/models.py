from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_project.models import TimeStamped


class ServiceCategory(TimeStamped):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("service category")
        verbose_name_plural = _("service categories")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contraindication(TimeStamped):
    """A condition that makes a service unsafe; clients carry the ones they have."""

    class Severity(models.TextChoices):
        CAUTION = "caution", _("Caution: check with the client")
        ABSOLUTE = "absolute", _("Absolute: never book")

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    severity = models.CharField(
        _("severity"),
        max_length=10,
        choices=Severity.choices,
        default=Severity.ABSOLUTE,
    )

    class Meta:
        verbose_name = _("contraindication")
        verbose_name_plural = _("contraindications")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Service(TimeStamped):
    category = models.ForeignKey(
        ServiceCategory,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="services",
    )
    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(
        _("price"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), validators=[MinValueValidator(1)]
    )
    benefits = models.TextField(_("benefits"), blank=True, help_text=_("One per line."))
    preparation_instructions = models.TextField(
        _("preparation instructions"), blank=True
    )
    contraindications = models.ManyToManyField(
        Contraindication,
        verbose_name=_("contraindications"),
        related_name="services",
        blank=True,
    )
    is_active = models.BooleanField(_("active"), default=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="service_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=1),
                name="service_duration_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def benefit_list(self) -> list[str]:
        return [line.strip() for line in self.benefits.splitlines() if line.strip()]
