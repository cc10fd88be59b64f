"""Reactivation: clients not seen for a while, at most once a quarter each."""

import datetime as dt

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment
from clients.models import Client

from ..models import JobRun, MessageKind
from ..services import MessageSpec, preferred_channels
from .base import SpecJob
from .reminders import REMINDED_STATUSES


def quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def clients_to_reactivate(now: dt.datetime):
    """Clients whose last visit is ``COMMUNICATIONS_REACTIVATION_DAYS`` days ago or
    more and who have nothing booked ahead (they are coming back already). Clients
    who never visited are not "lapsed": they are left to the lead follow-ups."""
    since = now - dt.timedelta(days=settings.COMMUNICATIONS_REACTIVATION_DAYS)
    booked_ahead = Appointment.objects.filter(
        client=OuterRef("pk"), status__in=REMINDED_STATUSES, start_at__gt=now
    )
    return (
        Client.objects.filter(last_visit_at__isnull=False, last_visit_at__lte=since)
        .exclude(Exists(booked_ahead))
        .order_by("pk")
    )


class Reactivation(SpecJob):
    name = JobRun.Job.REACTIVATION
    tasks = ("communications.tasks_jobs.send_reactivation_messages",)
    description = _(
        "Every day at 11:00: clients with no visit for "
        "COMMUNICATIONS_REACTIVATION_DAYS days (90) and nothing booked. At most once "
        "a quarter per client; marketing: only with consent for the channel."
    )

    def specs(self, now, **options):
        period = quarter(timezone.localdate(now))
        clients = list(clients_to_reactivate(now))
        channels = preferred_channels(clients)
        return [
            MessageSpec(
                MessageKind.REACTIVATION, channels[c.pk], client=c, period=period
            )
            for c in clients
        ]
