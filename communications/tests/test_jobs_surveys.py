"""Post-visit surveys: the day after a completed visit, a signed link to a page that
stores the rating on the appointment; a changed or old link gets 400."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from appointments.models import Appointment
from appointments.tests.factories import AppointmentFactory
from communications.jobs import answer_survey, run_job
from communications.jobs.surveys import survey_token
from communications.models import JobRun, Message, MessageKind

pytestmark = pytest.mark.django_db

JOB = JobRun.Job.POST_VISIT_SURVEYS
Status = Appointment.Status


def local(day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo(settings.TIME_ZONE))


def visit(start: dt.datetime, status=Status.COMPLETED, **fields) -> Appointment:
    return AppointmentFactory(start_at=start, status=status, **fields)


def survey_path(message: Message) -> str:
    match = re.search(r"https://studio\.test(/c/s/[^/\s]+/)", message.body_text)
    assert match, message.body_text
    return match.group(1)


def test_yesterdays_completed_visits_get_a_survey_once():
    yesterday = visit(local(22, 18))
    late_yesterday = visit(local(22, 23, 30))
    today = visit(local(23, 8))
    two_days_ago = visit(local(21, 12))
    no_show = visit(local(22, 12), status=Status.NO_SHOW)
    rated = visit(local(22, 13), feedback_rating=5)

    with time_machine.travel(local(23, 10, 30), tick=False):
        first = run_job(JOB)
        second = run_job(JOB)

    surveyed = set(
        Message.objects.filter(kind=MessageKind.POST_VISIT_SURVEY).values_list(
            "object_id", flat=True
        )
    )
    assert surveyed == {yesterday.pk, late_yesterday.pk}
    assert not surveyed & {today.pk, two_days_ago.pk, no_show.pk, rated.pk}
    assert (first.enqueued, second.enqueued, second.duplicates) == (2, 0, 2)


def test_the_client_rates_the_visit_through_the_link_in_the_message(client):
    appointment = visit(local(22, 18))
    with time_machine.travel(local(23, 10, 30), tick=False):
        run_job(JOB)
    path = survey_path(Message.objects.get(object_id=appointment.pk))

    page = client.get(path)
    answered = client.post(path, {"rating": "4", "comment": " Lovely, thanks! "})

    assert page.status_code == 200
    assert b"How was your visit?" in page.content
    assert answered.status_code == 200
    assert b"Your rating: 4 out of 5." in answered.content
    appointment.refresh_from_db()
    assert (appointment.feedback_rating, appointment.feedback_comment) == (
        4,
        "Lovely, thanks!",
    )


def test_answering_twice_keeps_the_first_answer(client):
    appointment = visit(local(22, 18))
    path = reverse("communications:survey", args=[survey_token(appointment.pk)])

    client.post(path, {"rating": "5"})
    again = client.post(path, {"rating": "1", "comment": "changed my mind"})

    assert again.status_code == 200
    assert b"Your rating: 5 out of 5." in again.content
    appointment.refresh_from_db()
    assert (appointment.feedback_rating, appointment.feedback_comment) == (5, "")
    assert answer_survey(appointment, rating=2) == (appointment, False)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "not-a-token",
        # A token signed for another use (the unsubscribe link) is refused too.
        lambda token: __import__(
            "communications.tracking", fromlist=["x"]
        ).unsubscribe_token("key"),
    ],
)
def test_a_changed_survey_link_answers_400_and_changes_nothing(client, tamper):
    appointment = visit(local(22, 18))
    path = reverse("communications:survey", args=[tamper(survey_token(appointment.pk))])

    shown = client.get(path)
    posted = client.post(path, {"rating": "1"})

    assert shown.status_code == posted.status_code == 400
    assert b"This link is not valid" in shown.content
    appointment.refresh_from_db()
    assert appointment.feedback_rating is None


def test_an_old_survey_link_answers_400_saying_it_expired(client, settings):
    settings.COMMUNICATIONS_SURVEY_LINK_DAYS = 30
    appointment = visit(local(22, 18))
    with time_machine.travel(local(23), tick=False):
        token = survey_token(appointment.pk)

    with time_machine.travel(local(23) + dt.timedelta(days=31), tick=False):
        response = client.post(
            reverse("communications:survey", args=[token]), {"rating": "3"}
        )

    assert response.status_code == 400
    assert b"expired" in response.content
    appointment.refresh_from_db()
    assert appointment.feedback_rating is None


def test_a_rating_outside_one_to_five_is_refused_with_the_form_again(client):
    appointment = visit(local(22, 18))
    path = reverse("communications:survey", args=[survey_token(appointment.pk)])

    response = client.post(path, {"rating": "9"})

    assert response.status_code == 400
    assert b"Please choose a rating from 1 to 5." in response.content
    appointment.refresh_from_db()
    assert appointment.feedback_rating is None


def test_a_visit_no_longer_completed_cannot_be_rated(client):
    appointment = visit(local(22, 18))
    Appointment.objects.filter(pk=appointment.pk).update(status=Status.CANCELLED)
    path = reverse("communications:survey", args=[survey_token(appointment.pk)])

    response = client.post(path, {"rating": "3"})

    assert response.status_code == 400
    assert b"This visit cannot be rated" in response.content


def test_the_survey_page_speaks_the_clients_language(client):
    appointment = visit(local(22, 18))
    appointment.client.preferred_language = "es"
    appointment.client.save()
    path = reverse("communications:survey", args=[survey_token(appointment.pk)])

    response = client.get(path)

    assert response.status_code == 200
    assert 'lang="es"' in response.content.decode()
