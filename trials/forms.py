"""The trial admin's forms: the rules the user must see are checked in ``clean()``
through the same functions the services use, so a refusal is a form error; the
services check again under their locks when the admin saves."""

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from leads.models import LeadStatus
from scheduling.models import Group

from . import services
from .models import Trial, TrialResult, TrialStatus

# Attendance a trial may move to from each status (through the services).
STATUS_MOVES = {
    TrialStatus.SCHEDULED: {
        TrialStatus.ATTENDED,
        TrialStatus.NO_SHOW,
        TrialStatus.CANCELLED,
    },
    TrialStatus.ATTENDED: {TrialStatus.NO_SHOW},
    TrialStatus.NO_SHOW: {TrialStatus.ATTENDED},
    TrialStatus.CANCELLED: set(),
}


class TrialAdminForm(forms.ModelForm):
    lost_reason = forms.CharField(
        label=_("lost reason"),
        max_length=255,
        required=False,
        help_text=_("With a rejected result: why the lead said no (kept on the lead)."),
    )

    class Meta:
        model = Trial
        fields = [
            "lead",
            "group",
            "lesson_date",
            "salesperson",
            "status",
            "result",
            "notes",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "group" in self.fields:
            running = Group.objects.running().select_related("course")
            if self.instance.pk:
                # A trial of a group that has since finished still shows its group.
                running = running | Group.objects.filter(pk=self.instance.group_id)
            self.fields["group"].queryset = running.distinct()
        if "lesson_date" in self.fields:
            self.fields["lesson_date"].help_text = _(
                "A date on which the group has a lesson."
            )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            self._clean_new(cleaned)
        else:
            self._clean_change(cleaned)
        return cleaned

    def _add_problems(self, problems: dict[str, list[str]]) -> None:
        for field, messages in problems.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)

    def _clean_new(self, cleaned) -> None:
        lead = cleaned.get("lead")
        if lead is not None and lead.status == LeadStatus.CONVERTED:
            self.add_error(
                "lead",
                _("This lead is already a client; enrol them in the group instead."),
            )
        self._add_problems(
            services.lesson_problems(cleaned.get("group"), cleaned.get("lesson_date"))
        )

    def _clean_change(self, cleaned) -> None:
        stored = Trial.objects.get(pk=self.instance.pk)
        group, day = cleaned.get("group"), cleaned.get("lesson_date")
        status = cleaned.get("status", stored.status)
        result = cleaned.get("result", stored.result)
        moved = group is not None and day is not None
        moved = moved and (group.pk != stored.group_id or day != stored.lesson_date)
        if moved:
            if stored.status != TrialStatus.SCHEDULED or status != stored.status:
                self.add_error(
                    "lesson_date",
                    _(
                        "Only a scheduled trial can be moved, and not while its "
                        "attendance is recorded."
                    ),
                )
            else:
                self._add_problems(services.lesson_problems(group, day, exclude=stored))
        if status != stored.status:
            self._check_status(stored, status, result)
        if result != stored.result:
            self._check_result(stored, status, result)

    def _check_status(self, stored: Trial, status: str, result: str) -> None:
        if status not in STATUS_MOVES.get(stored.status, set()):
            self.add_error(
                "status",
                _("A trial cannot go from %(old)s to %(new)s.")
                % {
                    "old": stored.get_status_display(),
                    "new": TrialStatus(status).label,
                },
            )
            return
        if status == TrialStatus.NO_SHOW and result != TrialResult.PENDING:
            self.add_error("status", _("A trial with a result cannot be a no-show."))
        if status in (TrialStatus.ATTENDED, TrialStatus.NO_SHOW):
            if stored.starts_at > timezone.now():
                self.add_error(
                    "status",
                    _("The lesson has not started yet (it starts %(when)s).")
                    % {"when": _local(stored.starts_at)},
                )

    def _check_result(self, stored: Trial, status: str, result: str) -> None:
        if stored.result == TrialResult.ACCEPTED:
            self.add_error(
                "result", _("The lead accepted and is a client now; it stays so.")
            )
        elif result != TrialResult.PENDING and status != TrialStatus.ATTENDED:
            self.add_error(
                "result", _("Record the lead's attendance before the result.")
            )
        elif result == TrialResult.PENDING:
            self.add_error("result", _("A recorded result cannot go back to pending."))


def _local(moment: dt.datetime) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


class FunnelForm(forms.Form):
    start = forms.DateField(
        label=_("Leads received from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label=_("to"), widget=forms.DateInput(attrs={"type": "date"}))

    # The default range: the last 30 days.
    DEFAULT_DAYS = 30
    # The longest range one page computes.
    MAX_DAYS = 3 * 366

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The range must end on or after its start."))
            elif (end - start).days > self.MAX_DAYS:
                self.add_error("end", _("Choose a range of at most three years."))
        return cleaned

    @classmethod
    def default_range(cls) -> tuple[dt.date, dt.date]:
        today = timezone.localdate()
        return today - dt.timedelta(days=cls.DEFAULT_DAYS - 1), today
