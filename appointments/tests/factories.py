import datetime as dt

import factory
from django.utils import timezone

from appointments.models import Appointment
from clients.tests.factories import ClientFactory
from services.tests.factories import ServiceFactory


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A plain scheduled appointment row; book through appointments.services to apply
    the booking rules."""

    class Meta:
        model = Appointment

    client = factory.SubFactory(ClientFactory)
    service = factory.SubFactory(ServiceFactory)
    start_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
    end_at = factory.LazyAttribute(
        lambda a: a.start_at + dt.timedelta(minutes=a.service.duration_minutes)
    )
    price = factory.LazyAttribute(lambda a: a.service.price)
