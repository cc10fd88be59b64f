"""Reminders already waiting in the outbox get their ``send_before`` (the start of
their appointment or trial lesson), so that quiet hours cannot hold them past it."""

from django.db import migrations
from django.db.models import OuterRef, Subquery

# kind -> (app label, model, the field with the start); as policy.SEND_BEFORE.
SEND_BEFORE = {
    "appointment_reminder": ("appointments", "appointment", "start_at"),
    "appointment_confirmation": ("appointments", "appointment", "start_at"),
    "trial_reminder": ("trials", "trial", "starts_at"),
}
PENDING = ["queued", "deferred", "sending"]


def backfill(apps, schema_editor):
    Message = apps.get_model("communications", "Message")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for kind, (app_label, model_name, field) in SEND_BEFORE.items():
        content_type = ContentType.objects.filter(
            app_label=app_label, model=model_name
        ).first()
        if content_type is None:
            continue
        model = apps.get_model(app_label, model_name)
        start = model.objects.filter(pk=OuterRef("object_id")).values(field)[:1]
        Message.objects.filter(
            kind=kind,
            content_type=content_type,
            status__in=PENDING,
            send_before__isnull=True,
        ).update(send_before=Subquery(start))


class Migration(migrations.Migration):
    dependencies = [
        ("appointments", "0002_initial"),
        ("communications", "0006_message_send_before"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("trials", "0003_reminders_in_the_outbox"),
    ]

    # Going back drops the column (0006): nothing to undo here.
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
