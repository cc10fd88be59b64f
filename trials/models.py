import datetime as dt

from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm_project.models import TimeStamped, staff_field
from crm_project.status import StatusHistory, StatusTracked
from leads.models import Lead
from scheduling.models import Enrollment, Group, WaitlistEntry


class TrialStatus(models.TextChoices):
    # Contexts: Spanish labels agree with "clase de prueba" (feminine).
    SCHEDULED = "scheduled", pgettext_lazy("trial status", "Scheduled")
    ATTENDED = "attended", pgettext_lazy("trial status", "Attended")
    NO_SHOW = "no_show", pgettext_lazy("trial status", "No-show")
    CANCELLED = "cancelled", pgettext_lazy("trial status", "Cancelled")


class TrialResult(models.TextChoices):
    PENDING = "pending", _("Pending")
    SALES_OFFER = "sales_offer", _("Sales offer made")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


# Trials that hold a place in their lesson: a cancelled or missed one gives it back.
PLACE_HOLDING_STATUSES = frozenset({TrialStatus.SCHEDULED, TrialStatus.ATTENDED})
# Results that mean an offer was made (the funnel's "offers").
OFFER_RESULTS = frozenset(
    {TrialResult.SALES_OFFER, TrialResult.ACCEPTED, TrialResult.REJECTED}
)


def overdue_condition(now: dt.datetime) -> Q:
    """Lesson ended, and attendance or (after attendance) the result not recorded."""
    return Q(ends_at__lte=now) & (
        Q(status=TrialStatus.SCHEDULED)
        | Q(status=TrialStatus.ATTENDED, result=TrialResult.PENDING)
    )


class TrialQuerySet(models.QuerySet):
    def holding_places(self):
        """Trials counted against their lesson's places: scheduled or attended, and
        not (yet) turned into an enrolment, whose place then counts instead."""
        return self.filter(status__in=PLACE_HOLDING_STATUSES, enrollment__isnull=True)

    def overdue(self, now: dt.datetime | None = None):
        """The queryset form of :attr:`Trial.is_overdue`."""
        return self.filter(overdue_condition(now or timezone.now()))

    def today(self, today: dt.date | None = None):
        return self.filter(lesson_date=today or timezone.localdate())

    def upcoming(self, now: dt.datetime | None = None):
        return self.filter(
            status=TrialStatus.SCHEDULED, starts_at__gt=now or timezone.now()
        )

    def for_salesperson(self, user):
        return self.filter(salesperson=user)


class Trial(StatusTracked, TimeStamped):
    """A lead's trial lesson: one lesson of a group, with a salesperson following up.

    ``starts_at`` / ``ends_at`` are the group's lesson times on ``lesson_date`` in the
    business time zone, copied when the trial is scheduled or moved (trials.services),
    so lists, filters and reminders need no per-row computation.
    """

    Status = TrialStatus
    Result = TrialResult

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="trials"
    )
    group = models.ForeignKey(
        Group, verbose_name=_("group"), on_delete=models.PROTECT, related_name="trials"
    )
    lesson_date = models.DateField(_("lesson date"))
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    salesperson = staff_field(_("salesperson"), related_name="trials")
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=TrialStatus.choices,
        default=TrialStatus.SCHEDULED,
    )
    result = models.CharField(
        _("result"),
        max_length=12,
        choices=TrialResult.choices,
        default=TrialResult.PENDING,
    )
    notes = models.TextField(_("notes"), blank=True)
    enrollment = models.ForeignKey(
        Enrollment,
        verbose_name=_("enrollment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="trials",
        help_text=_("The enrolment an accepted trial led to."),
    )
    waitlist_entry = models.ForeignKey(
        WaitlistEntry,
        verbose_name=_("waitlist entry"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="trials",
        help_text=_("Where an accepted trial went when the group was full."),
    )
    booked_by = staff_field(_("booked by"))
    result_at = models.DateTimeField(_("result recorded"), null=True, blank=True)

    objects = TrialQuerySet.as_manager()

    class Meta:
        verbose_name = _("trial lesson")
        verbose_name_plural = _("trial lessons")
        ordering = ["-starts_at", "-id"]
        permissions = [
            ("view_all_trials", _("Can see every salesperson's trial lessons"))
        ]
        constraints = [
            # One place per lead per lesson: a second booking of the same lesson is
            # the same trial.
            models.UniqueConstraint(
                fields=["lead", "group", "lesson_date"],
                condition=Q(status__in=["scheduled", "attended"]),
                name="trial_one_open_per_lead_lesson",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="trial_ends_after_start"
            ),
            # A result is the outcome of a lesson the lead came to.
            models.CheckConstraint(
                condition=Q(result="pending") | Q(status="attended"),
                name="trial_result_needs_attendance",
            ),
            models.CheckConstraint(
                condition=Q(enrollment__isnull=True) | Q(result="accepted"),
                name="trial_enrollment_only_when_accepted",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "lesson_date"], name="trial_lesson_idx"),
            models.Index(fields=["status", "ends_at"], name="trial_due_idx"),
            models.Index(fields=["salesperson", "status"], name="trial_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} · {self.group} · {self.lesson_date:%Y-%m-%d}"

    def get_absolute_url(self) -> str:
        return reverse("admin:trials_trial_change", args=[self.pk])

    @property
    def is_overdue(self) -> bool:
        """True once the lesson has ended (``ends_at`` is past) and the salesperson
        still owes something: attendance (the trial is still ``scheduled``) or, for
        an attended trial, its result (still ``pending``). Cancelled and no-show
        trials, and attended ones with a result, are never overdue."""
        if self.ends_at is None or self.ends_at > timezone.now():
            return False
        return self.status == TrialStatus.SCHEDULED or (
            self.status == TrialStatus.ATTENDED and self.result == TrialResult.PENDING
        )

    @property
    def is_upcoming_today(self) -> bool:
        """A scheduled trial whose lesson is today (business time zone) and has not
        started yet."""
        return bool(
            self.status == TrialStatus.SCHEDULED
            and self.starts_at
            and self.lesson_date == timezone.localdate()
            and self.starts_at > timezone.now()
        )

    @property
    def hours_until_trial(self) -> float | None:
        """Hours from now to the lesson's start, to one decimal; negative once it
        has started; None before the times are set."""
        if self.starts_at is None:
            return None
        return round((self.starts_at - timezone.now()).total_seconds() / 3600, 1)


class TrialStatusHistory(StatusHistory):
    trial = models.ForeignKey(
        Trial, verbose_name=_("trial"), on_delete=models.CASCADE, related_name="history"
    )
    from_status = models.CharField(
        _("from"), max_length=12, choices=TrialStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=12, choices=TrialStatus.choices)

    class Meta(StatusHistory.Meta):
        verbose_name = _("trial status change")
        verbose_name_plural = _("trial status history")
        indexes = [
            models.Index(fields=["trial", "changed_at"], name="trial_history_idx")
        ]


class ReminderKind(models.TextChoices):
    BEFORE_TO_LEAD = "before_to_lead", _("Before the lesson, to the lead")
    BEFORE_TO_SALESPERSON = (
        "before_to_salesperson",
        _("Before the lesson, to the salesperson"),
    )
    AFTER_TO_SALESPERSON = (
        "after_to_salesperson",
        _("After the lesson, to the salesperson"),
    )


BEFORE_KINDS = frozenset(
    {ReminderKind.BEFORE_TO_LEAD, ReminderKind.BEFORE_TO_SALESPERSON}
)


class ReminderStatus(models.TextChoices):
    # Contexts: Spanish labels agree with "recordatorio" (masculine).
    PENDING = "pending", pgettext_lazy("reminder status", "Pending")
    SENT = "sent", pgettext_lazy("reminder status", "Sent")
    SKIPPED = "skipped", pgettext_lazy("reminder status", "Skipped")
    CANCELLED = "cancelled", pgettext_lazy("reminder status", "Cancelled")


class TrialReminder(TimeStamped):
    """One reminder of a trial, for one due time: what was (or will be) sent when.

    A reminder is sent at most once for its (trial, kind, due time). Moving the trial
    cancels the pending row and adds one for the new time; a row already sent stays as
    the record of what went out (see trials.services.reschedule_trial).
    """

    Kind = ReminderKind
    Status = ReminderStatus

    trial = models.ForeignKey(
        Trial,
        verbose_name=_("trial"),
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    kind = models.CharField(_("kind"), max_length=25, choices=ReminderKind.choices)
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ReminderStatus.choices,
        default=ReminderStatus.PENDING,
    )
    recipient = models.CharField(_("recipient"), max_length=254, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    skip_reason = models.CharField(_("why not sent"), max_length=255, blank=True)
    message = models.ForeignKey(
        "communications.Message",
        verbose_name=_("message"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The outbox message: whether it went out, and when."),
    )

    class Meta:
        verbose_name = _("trial reminder")
        verbose_name_plural = _("trial reminders")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "kind", "due_at"], name="trial_reminder_once_per_time"
            ),
            # One time to wait for per kind; a row being sent for an old time may
            # finish while the new one waits.
            models.UniqueConstraint(
                fields=["trial", "kind"],
                condition=Q(status="pending"),
                name="trial_reminder_one_pending_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(status="sent"),
                name="trial_reminder_sent_at_only_when_sent",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="trial_reminder_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.trial}"
