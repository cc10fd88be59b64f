from decimal import Decimal

import factory

from services.models import Contraindication, Service, ServiceCategory


class ServiceCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCategory
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class ContraindicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contraindication
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Condition {n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("name",)

    category = factory.SubFactory(ServiceCategoryFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    price = Decimal("50.00")
    duration_minutes = 30
