from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import ALLOWED_TRANSITIONS, Appointment, InvalidTransition, Status
from .services import booking_problems

# A change to any of these re-runs the booking rules.
BOOKING_FIELDS = frozenset(
    {
        "client",
        "service",
        "start_at",
        "purchase",
        "contraindication_override",
        "override_reason",
    }
)
# A change to any of these re-checks the purchase (cover, expiry, weekly limit).
PURCHASE_FIELDS = frozenset({"client", "service", "start_at", "purchase"})


class AppointmentAdminForm(forms.ModelForm):
    """The booking rules of appointments.services as field errors.

    The status offers only the moves the lifecycle allows from the stored status;
    the admin's save_model makes the move through ``change_status``.
    """

    status_note = forms.CharField(
        label=_("note on the status change"),
        max_length=255,
        required=False,
        help_text=_("Kept in the status history with the change."),
    )

    class Meta:
        model = Appointment
        fields = [
            "client",
            "service",
            "staff",
            "start_at",
            "purchase",
            "status",
            "contraindication_override",
            "override_reason",
            "feedback_rating",
            "feedback_comment",
            "notes",
        ]

    # Set by the ModelAdmin from the requesting user; hides condition names otherwise.
    may_see_medical = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The stored status: the form later writes the submitted one on the instance.
        self.stored_status = self.instance.status if self.instance.pk else None
        status = self.fields.get("status")
        if status is not None and self.stored_status:
            allowed = {self.stored_status, *ALLOWED_TRANSITIONS[self.stored_status]}
            status.widget.choices = [
                (value, label) for value, label in Status.choices if value in allowed
            ]

    @property
    def adding(self) -> bool:
        return self.stored_status is None

    def clean_status(self):
        status = self.cleaned_data.get("status")
        old = self.stored_status
        if old and status and status != old and status not in ALLOWED_TRANSITIONS[old]:
            raise ValidationError(
                str(InvalidTransition(old, status)), code="invalid_transition"
            )
        return status

    def clean(self):
        cleaned = super().clean()
        changed = set(self.changed_data)
        if not self.adding and self.stored_status == Status.COMPLETED:
            for name in ("client", "purchase"):
                if name in changed:
                    self.add_error(
                        name,
                        _(
                            "A completed appointment keeps its client and package "
                            "purchase; reopen it (set it in progress) to change them."
                        ),
                    )
        if self.adding or changed & BOOKING_FIELDS:
            self._check_booking(cleaned, changed)
        self._check_feedback(cleaned, changed)
        return cleaned

    def _check_booking(self, cleaned, changed) -> None:
        client = cleaned.get("client")
        service = cleaned.get("service")
        start_at = cleaned.get("start_at")
        if client is None or service is None or start_at is None:
            return  # their own errors say what is missing
        purchase = cleaned.get("purchase")
        # A completed visit has used its session: its purchase may be exhausted by
        # now, which must not stop a correction of, say, its start time.
        recheck_purchase = self.adding or (
            changed & PURCHASE_FIELDS and self.stored_status != Status.COMPLETED
        )
        problems = booking_problems(
            client=client,
            service=service,
            start_at=start_at,
            purchase=purchase if recheck_purchase else None,
            override_contraindications=bool(cleaned.get("contraindication_override")),
            override_reason=cleaned.get("override_reason") or "",
            exclude_pk=self.instance.pk,
            reveal_conditions=self.may_see_medical,
        )
        for field, messages in problems.items():
            target = field if field in self.fields else None
            for message in messages:
                self.add_error(target, message)

    def _check_feedback(self, cleaned, changed) -> None:
        if not changed & {"feedback_rating", "feedback_comment"}:
            return
        if cleaned.get("feedback_rating") is None and not cleaned.get(
            "feedback_comment"
        ):
            return  # clearing feedback is always allowed
        status = cleaned.get("status", self.stored_status)
        if status != Status.COMPLETED:
            self.add_error(
                "feedback_rating", _("Only a completed appointment can be rated.")
            )
