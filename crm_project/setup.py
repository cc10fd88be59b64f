"""Roles and the default beat schedule, written idempotently.

Both are kept as rows staff can see and edit: roles are Django groups, schedules are
django-celery-beat PeriodicTasks. ``ensure_*`` create what is missing and never
overwrite what staff changed, so they run safely after every ``migrate`` and from
commands.
"""

import json
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)
EDIT = ("add", "change", "view")

# role -> {"app_label.model": actions}; "*" stands for every model of the app.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "owner": {
        "clients.*": ALL,
        "services.*": ALL,
        "packages.*": ALL,
        "appointments.*": ALL,
        "leads.*": ALL,
        "scheduling.*": ALL,
        "trials.*": ALL,
        "communications.*": ALL,
        "auth.user": ALL,
        "auth.group": VIEW,
        "django_celery_beat.*": ALL,
    },
    "manager": {
        "clients.*": ALL,
        "services.*": ALL,
        "packages.*": ALL,
        "appointments.*": ALL,
        "leads.*": ALL,
        "scheduling.*": ALL,
        "trials.*": ALL,
        "communications.*": ALL,
        "auth.user": VIEW,
        "django_celery_beat.*": ("change", "view"),
    },
    "receptionist": {
        "clients.client": EDIT,
        "clients.clientnote": ALL,
        "clients.interaction": EDIT,
        "clients.tag": VIEW,
        "services.*": VIEW,
        "packages.package": VIEW,
        "packages.packagepurchase": EDIT,
        "packages.payment": EDIT,
        "appointments.appointment": EDIT,
        "appointments.appointmentstatushistory": VIEW,
        "scheduling.course": VIEW,
        "scheduling.room": VIEW,
        "scheduling.group": VIEW,
        "scheduling.enrollment": EDIT,
        "scheduling.waitlistentry": EDIT,
        "scheduling.attendance": EDIT,
        "scheduling.roomoccupancy": VIEW,
        # The front desk records who came to a trial lesson.
        "trials.trial": ("change", "view"),
        "trials.trialreminder": VIEW,
        "trials.trialstatushistory": VIEW,
        # The front desk sees what was sent and records a client's wishes.
        "communications.message": VIEW,
        "communications.contactpreferences": EDIT,
        "communications.optout": EDIT,
        # Messages and reminders for a client at a time; due ones on the dashboard.
        "communications.scheduledmessage": EDIT,
    },
    "salesperson": {
        "clients.client": EDIT,
        "clients.clientnote": ALL,
        "clients.interaction": EDIT,
        "clients.tag": VIEW,
        "services.*": VIEW,
        "packages.package": VIEW,
        "packages.packagepurchase": EDIT,
        "packages.payment": ("add", "view"),
        "appointments.appointment": EDIT,
        "leads.lead": EDIT,
        "leads.leadfollowup": ALL,
        "leads.leadstatushistory": VIEW,
        "leads.importlog": EDIT,
        "scheduling.course": VIEW,
        "scheduling.group": VIEW,
        "scheduling.roomoccupancy": VIEW,
        "trials.trial": EDIT,
        "trials.trialreminder": VIEW,
        "trials.trialstatushistory": VIEW,
        "communications.scheduledmessage": EDIT,
    },
    "marketer": {
        "clients.client": VIEW,
        "clients.tag": ALL,
        "clients.interaction": VIEW,
        "services.*": VIEW,
        "packages.package": ("change", "view"),
        "appointments.appointment": VIEW,
        "leads.lead": VIEW,
        "leads.importlog": EDIT,
        "communications.messagetemplate": ALL,
        "communications.message": VIEW,
        "communications.contactpreferences": EDIT,
        "communications.optout": EDIT,
        "communications.segment": ALL,
        "communications.campaign": ALL,
    },
}
# Custom permissions on top of the model ones.
EXTRA_PERMISSIONS = {
    "owner": [
        "clients.view_medical_info",
        "leads.view_all_leads",
        "trials.view_all_trials",
    ],
    "manager": [
        "clients.view_medical_info",
        "leads.view_all_leads",
        "trials.view_all_trials",
    ],
    # Receptionists mark attendance for every salesperson's trial students.
    "receptionist": ["trials.view_all_trials"],
    "marketer": ["leads.view_all_leads"],
}


def _permissions_for(grants: dict[str, tuple[str, ...]]) -> list[Permission]:
    perms = []
    for target, actions in grants.items():
        app_label, model = target.split(".")
        qs = Permission.objects.filter(content_type__app_label=app_label)
        if model != "*":
            qs = qs.filter(content_type__model=model)
        # Only the model permissions ("view_lead"); custom ones ("view_all_leads",
        # "view_medical_info") are granted by name in EXTRA_PERMISSIONS.
        perms.extend(
            p
            for p in qs.select_related("content_type")
            if p.codename in {f"{a}_{p.content_type.model}" for a in actions}
        )
    return perms


def ensure_roles() -> dict[str, int]:
    """Create the five role groups and give each exactly its permissions.

    Roles are defined here, in code: re-running resets a group's permissions to this
    definition (staff who need more give users extra permissions, not the group).
    """
    counts = {}
    with transaction.atomic():
        for role, grants in ROLES.items():
            group, _ = Group.objects.get_or_create(name=role)
            perms = _permissions_for(grants)
            for dotted in EXTRA_PERMISSIONS.get(role, []):
                app_label, codename = dotted.split(".")
                perms.extend(
                    Permission.objects.filter(
                        content_type__app_label=app_label, codename=codename
                    )
                )
            group.permissions.set(perms)
            counts[role] = len(perms)
    return counts


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    minute: str
    hour: str
    description: str  # when it runs, in words
    day_of_week: str = "*"


DEFAULT_SCHEDULES = [
    DefaultSchedule(
        name="Expire package purchases",
        task="packages.tasks.expire_package_purchases",
        minute="15",
        hour="0",
        description="Every day at 00:15: purchases past their validity become expired.",
    ),
    DefaultSchedule(
        name="Reconcile client figures",
        task="clients.tasks.reconcile_client_figures",
        minute="30",
        hour="2",
        description="Every night at 02:30: recompute client figures, fix drift.",
    ),
]


DEFAULT_SCHEDULES.append(
    DefaultSchedule(
        name="Lead follow-ups",
        task="leads.tasks.process_follow_ups",
        minute="*/15",
        hour="*",
        description="Every 15 minutes: overdue follow-ups, reminders, escalations.",
    )
)


DEFAULT_SCHEDULES.append(
    DefaultSchedule(
        name="Stale lead imports",
        task="leads.tasks.sweep_stale_imports",
        minute="*/10",
        hour="*",
        description="Every 10 minutes: re-queue lost imports, fail those whose worker "
        "died.",
    )
)


DEFAULT_SCHEDULES.append(
    DefaultSchedule(
        name="Room occupancy",
        task="scheduling.tasks.refresh_room_occupancy",
        # Every hour at minute 5.
        minute="5",
        hour="*",
        description="Every hour at minute 5: rebuild room occupancy for the coming "
        "weeks (SCHEDULING_OCCUPANCY_WEEKS).",
    )
)


DEFAULT_SCHEDULES.append(
    DefaultSchedule(
        name="Trial reminders",
        task="trials.tasks.send_due_trial_reminders",
        # Every minute: reminders are due at exact times (2 hours before a trial,
        # 3 minutes after it ends), and each is sent once however often this runs.
        minute="*",
        hour="*",
        description="Every minute: send the trial lesson reminders that are due "
        "(before the lesson to the lead and the salesperson, after it to the "
        "salesperson).",
    )
)


DEFAULT_SCHEDULES.append(
    DefaultSchedule(
        name="Send due messages",
        task="communications.tasks.send_due_messages",
        # Every minute: the outbox's safety net. Messages due now are sent at once
        # by their own task; this picks up deferred, retried and scheduled ones.
        minute="*",
        hour="*",
        description="Every minute: send the outbox's due messages (scheduled, "
        "deferred past quiet hours, retries) and requeue any stuck in sending.",
    )
)


# The automated messages (communications.jobs). Each run is logged as a Job run; a
# job run twice messages nobody twice (the outbox's idempotency keys).
DEFAULT_SCHEDULES.extend(
    [
        DefaultSchedule(
            name="Appointment reminders",
            task="communications.tasks_jobs.send_appointment_reminders",
            # Every day at 09:00.
            minute="0",
            hour="9",
            description="Every day at 09:00: reminders for tomorrow's appointments.",
        ),
        DefaultSchedule(
            name="Appointment reminders for late bookings",
            task="communications.tasks_jobs.send_late_appointment_reminders",
            # Every hour on the hour.
            minute="0",
            hour="*",
            description="Every hour on the hour: reminders for appointments starting "
            "within 24 hours that have none yet (booked after the 09:00 run).",
        ),
        DefaultSchedule(
            name="Package expiry warnings",
            task="communications.tasks_jobs.send_package_expiry_warnings",
            # Every day at 10:00.
            minute="0",
            hour="10",
            description="Every day at 10:00: warn clients whose package expires "
            "within 7 days (once per purchase).",
        ),
        DefaultSchedule(
            name="Birthday greetings",
            task="communications.tasks_jobs.send_birthday_greetings",
            # Every day at 08:00.
            minute="0",
            hour="8",
            description="Every day at 08:00: birthday greetings (once a year per "
            "client, with marketing consent).",
        ),
        DefaultSchedule(
            name="Reactivation messages",
            task="communications.tasks_jobs.send_reactivation_messages",
            # Every day at 11:00.
            minute="0",
            hour="11",
            description="Every day at 11:00: clients with no visit for 90 days "
            "(at most once a quarter each, with marketing consent).",
        ),
        DefaultSchedule(
            name="Post-visit surveys",
            task="communications.tasks_jobs.send_post_visit_surveys",
            # Every day at 10:30.
            minute="30",
            hour="10",
            description="Every day at 10:30: ask yesterday's clients to rate their "
            "visit (once per appointment).",
        ),
        DefaultSchedule(
            name="Scheduled messages",
            task="communications.tasks_jobs.send_due_scheduled_messages",
            # Every minute: staff schedule these to the minute.
            minute="*",
            hour="*",
            description="Every minute: send the scheduled one-off messages that are "
            "due and list due staff reminders on the dashboard.",
        ),
    ]
)


DEFAULT_SCHEDULES.append(
    DefaultSchedule(
        name="Campaigns",
        task="communications.tasks.run_due_campaigns",
        # Every minute: campaigns are scheduled to the minute, and a sending one is
        # marked sent as soon as its last message has gone.
        minute="*",
        hour="*",
        description="Every minute: start the scheduled campaigns that are due, "
        "publish again any lost batch, and mark finished campaigns sent.",
    )
)


def ensure_schedules() -> list[str]:
    """Create missing default periodic tasks; returns the names created.

    An existing task (matched by name) is left as staff last saved it: paused, retimed
    or edited. Crontabs are in the business time zone.
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = []
    with transaction.atomic():
        for item in DEFAULT_SCHEDULES:
            if PeriodicTask.objects.filter(name=item.name).exists():
                continue
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=item.minute,
                hour=item.hour,
                day_of_week=item.day_of_week,
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            PeriodicTask.objects.create(
                name=item.name,
                task=item.task,
                crontab=crontab,
                description=item.description,
                kwargs=json.dumps({}),
            )
            created.append(item.name)
    return created


def ensure_defaults_after_migrate(
    sender, app_config=None, using="default", **kwargs
) -> None:
    # post_migrate fires once per app, ours before the domain apps have their
    # permissions (auth creates them in its own receiver, app by app), so create them
    # all first; create_permissions is idempotent.
    if app_config is None or app_config.name != "crm_project":
        return
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using)
    ensure_roles()
    ensure_schedules()
    # Default message templates; existing (staff-edited) ones are kept. A partial
    # migrate may stop before their table exists.
    from django.db import connections

    from communications.models import MessageTemplate
    from communications.services import load_message_templates

    if MessageTemplate._meta.db_table in connections[using].introspection.table_names():
        load_message_templates()
