"""Birthday greetings: on the day, in the business time zone, once a year."""

import calendar
import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clients.models import Client

from ..models import JobRun, MessageKind
from ..services import MessageSpec, preferred_channels
from .base import SpecJob


def birthdays_on(day: dt.date):
    """Clients born on ``day``'s month and day; in a common year, those born on
    29 February are greeted on the 28th."""
    match = Q(birth_date__month=day.month, birth_date__day=day.day)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        match |= Q(birth_date__month=2, birth_date__day=29)
    return Client.objects.filter(match).order_by("pk")


class Birthdays(SpecJob):
    name = JobRun.Job.BIRTHDAYS
    tasks = ("communications.tasks_jobs.send_birthday_greetings",)
    description = _(
        "Every day at 08:00: clients whose birthday it is. Once a year per client; "
        "marketing: only with consent for the channel."
    )

    def specs(self, now, **options):
        today = timezone.localdate(now)
        clients = list(birthdays_on(today))
        channels = preferred_channels(clients)
        return [
            MessageSpec(
                MessageKind.BIRTHDAY,
                channels[c.pk],
                client=c,
                period=str(today.year),
            )
            for c in clients
        ]
