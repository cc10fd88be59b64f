"""Post-visit surveys: the day after a completed visit, a signed link to rate it.

The link (``/c/s/<token>/``) carries the appointment's id, signed with its own salt
and dated: it works for ``COMMUNICATIONS_SURVEY_LINK_DAYS`` days. The first answer
is kept: a second one (the link forwarded, the form sent twice) changes nothing and
shows the answer already recorded.
"""

import datetime as dt

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment
from appointments.services import record_feedback
from crm_project.timeutils import day_bounds

from .. import tracking
from ..models import JobRun, MessageKind
from ..services import MessageSpec, preferred_channels
from .base import SpecJob

SURVEY_SALT = "communications.survey"


def survey_token(appointment_id: int) -> str:
    return signing.dumps({"a": appointment_id}, salt=SURVEY_SALT, compress=True)


def read_survey_token(token: str) -> int:
    """The appointment id. Raises ``signing.SignatureExpired`` for an old link and
    ``signing.BadSignature`` for a changed or foreign one."""
    data = signing.loads(
        token,
        salt=SURVEY_SALT,
        max_age=dt.timedelta(days=settings.COMMUNICATIONS_SURVEY_LINK_DAYS),
    )
    if not isinstance(data, dict) or not isinstance(data.get("a"), int):
        raise signing.BadSignature("not a survey token")
    return data["a"]


def survey_url(appointment_id: int) -> str:
    return tracking.absolute(
        reverse("communications:survey", args=[survey_token(appointment_id)])
    )


def visits_to_survey(now: dt.datetime):
    """Yesterday's completed appointments (business day) not rated yet."""
    start, end = day_bounds(timezone.localdate(now) - dt.timedelta(days=1))
    return (
        Appointment.objects.filter(
            status=Appointment.Status.COMPLETED,
            start_at__gte=start,
            start_at__lt=end,
            feedback_rating__isnull=True,
        )
        .select_related("client", "service")
        .order_by("start_at", "pk")
    )


def answer_survey(
    appointment: Appointment, *, rating: int, comment: str = ""
) -> tuple[Appointment, bool]:
    """Store a client's rating (1-5) and comment on the appointment through
    ``record_feedback``; returns (appointment, recorded). The first answer stands:
    an appointment already rated is returned unchanged with ``recorded`` False.
    Raises ``ValidationError`` for a rating outside 1-5 or a visit no longer
    completed."""
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if locked.feedback_rating is not None:
            return locked, False
        record_feedback(locked, rating=rating, comment=(comment or "").strip())
    return locked, True


class PostVisitSurveys(SpecJob):
    name = JobRun.Job.POST_VISIT_SURVEYS
    tasks = ("communications.tasks_jobs.send_post_visit_surveys",)
    description = _(
        "Every day at 10:30: clients whose completed visit was yesterday and not "
        "rated yet get a link to rate it from 1 to 5; the rating is stored on the "
        "appointment. Once per appointment."
    )

    def specs(self, now, **options):
        visits = list(visits_to_survey(now))
        channels = preferred_channels({a.client for a in visits})
        return [
            MessageSpec(
                MessageKind.POST_VISIT_SURVEY,
                channels[a.client_id],
                client=a.client,
                about=a,
                context={"survey_url": survey_url(a.pk)},
            )
            for a in visits
        ]
