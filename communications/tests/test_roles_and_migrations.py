import importlib

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client as Browser

from clients.models import Client
from clients.tests.factories import UserFactory
from communications.models import ContactPreferences, Message, MessageTemplate
from crm_project.setup import ensure_roles
from crm_project.tests.admin_testing import changelist_url

pytestmark = pytest.mark.django_db


def browser_for(role: str) -> Browser:
    ensure_roles()
    user = UserFactory(is_superuser=False)
    user.groups.add(Group.objects.get(name=role))
    browser = Browser()
    browser.force_login(user)
    return browser


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        ("marketer", {Message: 200, MessageTemplate: 200, ContactPreferences: 200}),
        ("receptionist", {Message: 200, MessageTemplate: 403, ContactPreferences: 200}),
        ("salesperson", {Message: 403, MessageTemplate: 403, ContactPreferences: 403}),
        ("manager", {Message: 200, MessageTemplate: 200, ContactPreferences: 200}),
    ],
)
def test_roles_see_the_communications_pages_their_work_needs(role, pages):
    browser = browser_for(role)

    for model, status in pages.items():
        assert browser.get(changelist_url(model)).status_code == status, model


def test_only_marketers_and_managers_edit_templates():
    ensure_roles()
    marketer = Group.objects.get(name="marketer").permissions
    receptionist = Group.objects.get(name="receptionist").permissions

    assert marketer.filter(codename="change_messagetemplate").exists()
    assert not receptionist.filter(codename="change_messagetemplate").exists()
    assert receptionist.filter(codename="change_contactpreferences").exists()
    assert not marketer.filter(codename="change_message").exists()  # a log


@pytest.mark.django_db(transaction=True)
def test_consent_ticked_on_clients_before_the_outbox_is_carried_over():
    # given a database from before the move: clients with their own consent columns
    seeding = importlib.import_module(
        "communications.migrations.0002_seed_preferences_from_clients"
    )
    before = [("clients", "0004_client_acquisition_source")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(
        [*before, ("communications", "0002_seed_preferences_from_clients")]
    ).apps
    OldClient = old.get_model("clients", "Client")
    agreed = OldClient.objects.create(
        first_name="Ana", phone="+14155550101", consent_sms=True, referral_code="AGREED"
    )
    declined = OldClient.objects.create(
        first_name="Bo", phone="+14155550102", referral_code="DECLINED"
    )

    # when the outbox's data migration runs (twice: the second adds nothing), and
    # the clients' columns go
    seeding.seed(old, None)
    seeding.seed(old, None)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the consent is where the outbox reads it
    prefs = ContactPreferences.objects.get(client_id=agreed.pk)
    assert prefs.marketing_sms and prefs.marketing_sms_at is not None
    assert not prefs.marketing_email and prefs.marketing_email_at is None
    assert not ContactPreferences.objects.filter(client_id=declined.pk).exists()
    assert "consent_sms" not in {f.name for f in Client._meta.get_fields()}
