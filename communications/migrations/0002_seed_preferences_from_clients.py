"""Carry the marketing consent already ticked on clients (Client.consent_*) into
ContactPreferences, which the outbox reads: without this, every client who agreed
before the outbox existed would count as not having agreed."""

from django.db import migrations
from django.db.models import Q


def seed(apps, schema_editor):
    Client = apps.get_model("clients", "Client")
    ContactPreferences = apps.get_model("communications", "ContactPreferences")
    rows = []
    consenting = Client.objects.filter(
        Q(consent_email=True) | Q(consent_sms=True) | Q(consent_whatsapp=True)
    ).values_list(
        "pk", "consent_email", "consent_sms", "consent_whatsapp", "updated_at"
    )
    for pk, email, sms, whatsapp, updated_at in consenting.iterator():
        rows.append(
            ContactPreferences(
                client_id=pk,
                marketing_email=email,
                marketing_email_at=updated_at if email else None,
                marketing_sms=sms,
                marketing_sms_at=updated_at if sms else None,
                marketing_whatsapp=whatsapp,
                marketing_whatsapp_at=updated_at if whatsapp else None,
            )
        )
    ContactPreferences.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


def unseed(apps, schema_editor):
    # The rows seeded here cannot be told from later ones; leaving them is harmless.
    pass


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
        ("communications", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
