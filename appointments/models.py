from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client
from crm_project.models import TimeStamped, staff_field
from crm_project.status import StatusHistory, StatusTracked
from packages.models import PackagePurchase
from services.models import Service


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    CONFIRMED = "confirmed", _("Confirmed")
    CHECKED_IN = "checked_in", _("Checked in")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")


# The lifecycle: where each status may go next. Completing needs the client checked in;
# a completed visit may be reopened or cancelled (both give its package session back);
# a cancelled or no-show appointment may be rebooked.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SCHEDULED: frozenset(
        {Status.CONFIRMED, Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW}
    ),
    Status.CONFIRMED: frozenset({Status.CHECKED_IN, Status.CANCELLED, Status.NO_SHOW}),
    Status.CHECKED_IN: frozenset(
        {Status.IN_PROGRESS, Status.COMPLETED, Status.CANCELLED}
    ),
    Status.IN_PROGRESS: frozenset({Status.COMPLETED, Status.CANCELLED}),
    Status.COMPLETED: frozenset({Status.IN_PROGRESS, Status.CANCELLED}),
    Status.CANCELLED: frozenset({Status.SCHEDULED}),
    Status.NO_SHOW: frozenset({Status.SCHEDULED}),
}

# Statuses that hold a slot: they count against a package's weekly limit.
BOOKED_STATUSES = frozenset(
    {
        Status.SCHEDULED,
        Status.CONFIRMED,
        Status.CHECKED_IN,
        Status.IN_PROGRESS,
        Status.COMPLETED,
    }
)


class InvalidTransition(ValueError):
    def __init__(self, old: str, new: str):
        self.old, self.new = old, new
        super().__init__(
            _("An appointment cannot go from %(old)s to %(new)s.")
            % {"old": Status(old).label, "new": Status(new).label}
        )


class AppointmentQuerySet(models.QuerySet):
    def for_client(self, client):
        return self.filter(client=client)

    def between(self, start, end):
        return self.filter(start_at__gte=start, start_at__lt=end)

    def booked(self):
        return self.filter(status__in=BOOKED_STATUSES)

    def upcoming(self):
        return (
            self.booked()
            .filter(start_at__gte=timezone.now())
            .exclude(status=Status.COMPLETED)
        )


class Appointment(StatusTracked, TimeStamped):
    """A booked visit; ``save()`` enforces ALLOWED_TRANSITIONS on every path."""

    Status = Status
    stored_fields = ("session_consumed",)

    client = models.ForeignKey(
        Client,
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    staff = staff_field(_("staff member"), related_name="appointments")
    start_at = models.DateTimeField(_("starts"))
    end_at = models.DateTimeField(_("ends"))
    price = models.DecimalField(
        _("price"),
        max_digits=10,
        decimal_places=2,
        help_text=_("On a package: the purchase price per session."),
    )
    purchase = models.ForeignKey(
        PackagePurchase,
        verbose_name=_("package purchase"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SCHEDULED
    )
    # True while this appointment holds one of its purchase's sessions; flipped only
    # by a conditional update in appointments.services: a session is consumed once.
    session_consumed = models.BooleanField(
        _("session consumed"), default=False, editable=False
    )
    contraindication_override = models.BooleanField(
        _("contraindication override"),
        default=False,
        help_text=_(
            "Book although the service is contraindicated for the client's conditions."
        ),
    )
    override_reason = models.CharField(_("override reason"), max_length=255, blank=True)
    override_by = staff_field(_("override approved by"), editable=False)
    feedback_rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    feedback_comment = models.TextField(_("feedback"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    booked_by = staff_field(_("booked by"), editable=False)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["-start_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_at__gt=F("start_at")), name="appt_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(feedback_rating__isnull=True)
                | Q(feedback_rating__gte=1, feedback_rating__lte=5),
                name="appt_rating_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0), name="appt_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(session_consumed=False) | Q(purchase__isnull=False),
                name="appt_consumed_needs_purchase",
            ),
        ]
        indexes = [
            models.Index(fields=["-start_at", "-id"], name="appt_start_idx"),
            models.Index(fields=["client", "-start_at"], name="appt_client_idx"),
            models.Index(fields=["status", "-start_at"], name="appt_status_idx"),
            models.Index(fields=["staff", "-start_at"], name="appt_staff_idx"),
            models.Index(fields=["purchase", "start_at"], name="appt_purchase_idx"),
        ]

    def __str__(self) -> str:
        local = timezone.localtime(self.start_at) if self.start_at else None
        when = local.strftime("%Y-%m-%d %H:%M") if local else "?"
        return f"{self.service} · {self.client} · {when}"

    def check_transition(self, old: str, new: str) -> None:
        if new not in ALLOWED_TRANSITIONS[old]:
            raise InvalidTransition(old, new)

    def can_transition_to(self, status: str) -> bool:
        return status in ALLOWED_TRANSITIONS.get(self.status, frozenset())


class AppointmentStatusHistory(StatusHistory):
    appointment = models.ForeignKey(
        Appointment,
        verbose_name=_("appointment"),
        on_delete=models.CASCADE,
        related_name="status_history",
    )
    from_status = models.CharField(
        _("from"), max_length=12, choices=Status.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=12, choices=Status.choices)

    class Meta(StatusHistory.Meta):
        verbose_name = _("appointment status change")
        verbose_name_plural = _("appointment status history")
        indexes = [
            models.Index(fields=["appointment", "changed_at"], name="appt_history_idx"),
            models.Index(fields=["-changed_at", "-id"], name="appt_history_recent_idx"),
        ]
