import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from clients.tests.factories import ClientFactory
from packages.models import Package, PackagePurchase, Payment
from services.tests.factories import ServiceFactory


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Package
        django_get_or_create = ("name",)
        skip_postgeneration_save = True  # services.set() needs no second save

    name = factory.Sequence(lambda n: f"Package {n}")
    sessions = 10
    validity_days = 60
    price = Decimal("400.00")

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if not create:
            return
        self.services.set(extracted if extracted is not None else [ServiceFactory()])


class PackagePurchaseFactory(factory.django.DjangoModelFactory):
    """A purchase row as a sale leaves it, without the payment (see sell_package)."""

    class Meta:
        model = PackagePurchase

    client = factory.SubFactory(ClientFactory)
    package = factory.SubFactory(PackageFactory)
    price_paid = factory.LazyAttribute(lambda p: p.package.price)
    purchased_on = factory.LazyFunction(timezone.localdate)
    expires_on = factory.LazyAttribute(
        lambda p: p.purchased_on + dt.timedelta(days=p.package.validity_days)
    )
    sessions_total = factory.LazyAttribute(lambda p: p.package.sessions)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    client = factory.SubFactory(ClientFactory)
    amount = Decimal("100.00")
    method = Payment.Method.CARD
    paid_at = factory.LazyFunction(timezone.now)
