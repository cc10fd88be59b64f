"""The public post-visit survey page behind the link in the survey message.

GET shows the visit and a 1-5 choice with an optional comment; POST stores it on
the appointment (``communications.jobs.answer_survey``). The first answer is kept:
the page then thanks the client and shows it. A changed or foreign token answers
400, an expired one 400 saying so; never a server error.
"""

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from appointments.models import Appointment

from .jobs import answer_survey
from .jobs.surveys import read_survey_token
from .models import ContactPreferences

RATINGS = [(n, str(n)) for n in range(1, 6)]


class SurveyForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=gettext_lazy("Your rating (1 = poor, 5 = excellent)"),
        choices=RATINGS,
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=gettext_lazy("Anything you would like to tell us? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _language(client) -> str:
    prefs = ContactPreferences.objects.filter(client=client).first()
    return (prefs.preferred_language if prefs else "") or client.preferred_language


def _error(request, title: str, text: str, status: int = 400):
    return render(
        request,
        "communications/survey_error.html",
        {"title": title, "text": text},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def survey_view(request, token: str):
    try:
        appointment_id = read_survey_token(token)
    except signing.SignatureExpired:
        return _error(
            request,
            _("This survey link has expired"),
            _("Thank you all the same. You can always tell us at your next visit."),
        )
    except signing.BadSignature:
        return _error(
            request,
            _("This link is not valid"),
            _(
                "The link is incomplete or was changed. Please use the link exactly "
                "as it arrived in your message."
            ),
        )
    appointment = (
        Appointment.objects.select_related("client", "service")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        return _error(
            request,
            _("This visit is no longer on record"),
            _("Thank you all the same."),
            status=404,
        )
    with translation.override(_language(appointment.client)):
        context = {"appointment": appointment}
        if appointment.feedback_rating is not None:
            return render(request, "communications/survey_thanks.html", context)
        form = SurveyForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                appointment, _recorded = answer_survey(
                    appointment,
                    rating=form.cleaned_data["rating"],
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as exc:
                return _error(
                    request, _("This visit cannot be rated"), " ".join(exc.messages)
                )
            context["appointment"] = appointment
            return render(request, "communications/survey_thanks.html", context)
        context["form"] = form
        status = 400 if form.errors else 200
        return render(request, "communications/survey.html", context, status=status)
