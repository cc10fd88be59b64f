"""Lead factories. They write rows directly: the signal still records the creation
in the status history, but no follow-up is scheduled and nobody is assigned; go
through leads.services (``create_or_merge_lead``) to apply the intake rules."""

import datetime as dt

import factory
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from clients.tests.factories import UserFactory
from leads.models import (
    ImportLog,
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    Source,
    WebhookDelivery,
    WebhookSecret,
)


def _join(group_name: str):
    """A post-generation hook that puts the user in ``group_name`` (made if missing).

    ``SalespersonFactory(group=False)`` skips it.
    """

    def hook(user, create, extracted, **kwargs):
        if create and extracted is not False:
            group, _created = Group.objects.get_or_create(name=group_name)
            user.groups.add(group)

    return factory.PostGeneration(hook)


class SalespersonFactory(UserFactory):
    """An active staff user in the salesperson group."""

    class Meta:
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"sales{n}")
    group = _join(settings.LEADS_SALESPERSON_GROUP)


class ManagerFactory(UserFactory):
    """An active staff user in the manager group (escalations go to them)."""

    class Meta:
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"manager{n}")
    group = _join(settings.LEADS_MANAGER_GROUP)


class LeadFactory(factory.django.DjangoModelFactory):
    """A new lead with a unique valid US phone (+1 646 555 xxxx) and email."""

    class Meta:
        model = Lead

    full_name = factory.Sequence(lambda n: f"Lead Person{n}")
    phone = factory.Sequence(lambda n: f"+1646555{n % 10000:04d}")
    email = factory.Sequence(lambda n: f"lead{n}@example.org")
    source = Source.INSTAGRAM
    status = LeadStatus.NEW
    received_at = factory.LazyFunction(timezone.now)
    first_contact_due_at = factory.LazyAttribute(
        lambda o: o.received_at + dt.timedelta(hours=settings.LEADS_FIRST_CONTACT_HOURS)
    )

    class Params:
        assigned = factory.Trait(
            assigned_to=factory.SubFactory(SalespersonFactory),
            assigned_at=factory.LazyFunction(timezone.now),
        )


class LeadStatusHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadStatusHistory

    lead = factory.SubFactory(LeadFactory)
    from_status = LeadStatus.NEW
    to_status = LeadStatus.CONTACTED
    changed_at = factory.LazyFunction(timezone.now)


class LeadFollowUpFactory(factory.django.DjangoModelFactory):
    """A pending follow-up due in an hour, assigned to the lead's salesperson."""

    class Meta:
        model = LeadFollowUp

    lead = factory.SubFactory(LeadFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1))
    note = factory.Sequence(lambda n: f"Call back #{n}")
    status = LeadFollowUp.Status.PENDING
    assigned_to = factory.LazyAttribute(lambda o: o.lead.assigned_to)

    class Params:
        overdue = factory.Trait(
            status=LeadFollowUp.Status.OVERDUE,
            due_at=factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1)),
        )
        done = factory.Trait(
            status=LeadFollowUp.Status.DONE,
            completed_at=factory.LazyFunction(timezone.now),
        )


class ImportLogFactory(factory.django.DjangoModelFactory):
    """A queued CSV import without a file; give ``file=`` for one that can run."""

    class Meta:
        model = ImportLog

    original_name = factory.Sequence(lambda n: f"leads-{n}.csv")
    format = ImportLog.Format.CSV
    source = Source.CSV
    status = ImportLog.Status.QUEUED
    created_by = factory.SubFactory(UserFactory)


class WebhookSecretFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookSecret
        django_get_or_create = ("hook",)

    hook = WebhookSecret.Hook.LANDING_PAGE
    secret = factory.Sequence(lambda n: f"test-secret-{n}")
    verify_token = factory.Sequence(lambda n: f"test-verify-{n}")
    is_active = True


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    hook = WebhookSecret.Hook.LANDING_PAGE
    external_id = factory.Sequence(lambda n: f"delivery-{n}")
    payload = factory.LazyAttribute(lambda o: {"id": o.external_id})
    outcome = WebhookDelivery.Outcome.CREATED
