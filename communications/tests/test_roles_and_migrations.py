import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client as Browser

from clients.tests.factories import ClientFactory, UserFactory
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


def test_consent_ticked_on_clients_before_the_outbox_is_carried_over():
    seeding = importlib.import_module(
        "communications.migrations.0002_seed_preferences_from_clients"
    )
    agreed = ClientFactory(consent_sms=True, consent_email=False)
    declined = ClientFactory()

    seeding.seed(apps, None)
    seeding.seed(apps, None)  # twice: nothing more

    prefs = ContactPreferences.objects.get(client=agreed)
    assert prefs.marketing_sms and prefs.marketing_sms_at is not None
    assert not prefs.marketing_email and prefs.marketing_email_at is None
    assert not ContactPreferences.objects.filter(client=declined).exists()
