"""Appointment reminders: the day before, and 24 hours before for late bookings.

Two schedules run this job. Every day at 09:00 (business time zone) it reminds
every booked appointment of the next day. Every hour it reminds any booked
appointment starting within the next 24 hours that has no reminder yet: in practice
those booked after the 09:00 run (or missed by it), which so get theirs about 24
hours ahead. The idempotency key is the kind and the appointment, no period: an
appointment is reminded once, whichever pass comes first.
"""

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from appointments.models import Appointment
from crm_project.timeutils import day_bounds

from ..models import JobRun, MessageKind
from ..services import MessageSpec, preferred_channels
from .base import SpecJob

# Only these still expect the client: a checked-in or cancelled visit needs no reminder.
REMINDED_STATUSES = (Appointment.Status.SCHEDULED, Appointment.Status.CONFIRMED)


def appointments_to_remind(now: dt.datetime, *, next_24_hours_only: bool = False):
    """Booked appointments starting within 24 hours of ``now`` and, unless
    ``next_24_hours_only``, all of the next business day's."""
    window = Q(start_at__lte=now + dt.timedelta(hours=24))
    if not next_24_hours_only:
        tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
        _start, tomorrow_end = day_bounds(tomorrow)
        window |= Q(start_at__lt=tomorrow_end)
    return (
        Appointment.objects.filter(
            window, status__in=REMINDED_STATUSES, start_at__gt=now
        )
        .select_related("client", "service")
        .order_by("start_at", "pk")
    )


class AppointmentReminders(SpecJob):
    name = JobRun.Job.APPOINTMENT_REMINDERS
    tasks = (
        "communications.tasks_jobs.send_appointment_reminders",
        "communications.tasks_jobs.send_late_appointment_reminders",
    )
    description = _(
        "The day before at 09:00: every appointment of the next day. Every hour: "
        "appointments starting within 24 hours that have no reminder yet (booked "
        "after the 09:00 run). Once per appointment, on the client's preferred "
        "channel."
    )

    def specs(self, now, *, next_24_hours_only: bool = False, **options):
        appointments = list(
            appointments_to_remind(now, next_24_hours_only=next_24_hours_only)
        )
        channels = preferred_channels({a.client for a in appointments})
        return [
            MessageSpec(
                MessageKind.APPOINTMENT_REMINDER,
                channels[a.client_id],
                client=a.client,
                about=a,
            )
            for a in appointments
        ]
