import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from clients.models import Client, ClientNote, Interaction, Tag


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@studio.test")
    # Plain names: a random one ("Kimberly") would match staff searches in tests.
    first_name = factory.Sequence(lambda n: f"Staff{n}")
    last_name = "Member"
    is_staff = True
    password = factory.django.Password("pass-for-tests-1")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")
    color = "#1abc9c"


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    # +1 415 555 01xx numbers are valid for the phonenumbers library.
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    email = factory.Sequence(lambda n: f"client{n}@example.com")


class ClientNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClientNote

    client = factory.SubFactory(ClientFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Faker("sentence")


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    client = factory.SubFactory(ClientFactory)
    type = Interaction.Type.CALL
    channel = Interaction.ChannelChoice.PHONE
    subject = factory.Faker("sentence", nb_words=4)
    occurred_at = factory.LazyFunction(timezone.now)
