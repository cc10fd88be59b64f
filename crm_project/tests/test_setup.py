"""Roles, the default beat schedule and the settings that guard a production start."""

import datetime as dt
import os
import secrets
import subprocess
import sys
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from clients.tests.factories import UserFactory
from crm_project.celery import app as celery_app
from crm_project.setup import DEFAULT_SCHEDULES, ROLES, ensure_roles, ensure_schedules

ROLE_NAMES = {"owner", "manager", "receptionist", "salesperson", "marketer"}
EXPIRE = "Expire package purchases"
RECONCILE = "Reconcile client figures"
FOLLOW_UPS = "Lead follow-ups"
STALE_IMPORTS = "Stale lead imports"
TRIAL_REMINDERS = "Trial reminders"
ROOM_OCCUPANCY = "Room occupancy"
SEND_MESSAGES = "Send due messages"
CAMPAIGNS = "Campaigns"
JOB_SCHEDULES = {
    "Appointment reminders": ("send_appointment_reminders", "0", "9"),
    "Appointment reminders for late bookings": (
        "send_late_appointment_reminders",
        "0",
        "*",
    ),
    "Package expiry warnings": ("send_package_expiry_warnings", "0", "10"),
    "Birthday greetings": ("send_birthday_greetings", "0", "8"),
    "Reactivation messages": ("send_reactivation_messages", "0", "11"),
    "Post-visit surveys": ("send_post_visit_surveys", "30", "10"),
    "Scheduled messages": ("send_due_scheduled_messages", "*", "*"),
}


def member_of(role: str):
    user = UserFactory(is_superuser=False)
    user.groups.add(Group.objects.get(name=role))
    return type(user).objects.get(pk=user.pk)  # a fresh instance: no perm cache


def permissions(role: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=role).permissions.select_related("content_type")
    }


# --- Roles ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_five_roles_exist_after_migrate():
    assert set(ROLES) == ROLE_NAMES
    assert set(Group.objects.values_list("name", flat=True)) >= ROLE_NAMES
    assert all(permissions(role) for role in ROLE_NAMES)


@pytest.mark.django_db
def test_ensuring_roles_twice_changes_nothing():
    before = {role: permissions(role) for role in ROLE_NAMES}
    groups = Group.objects.count()

    first = ensure_roles()
    second = ensure_roles()

    assert first == second
    assert Group.objects.count() == groups
    assert {role: permissions(role) for role in ROLE_NAMES} == before
    assert first == {role: len(before[role]) for role in ROLE_NAMES}


@pytest.mark.django_db
def test_rerunning_resets_a_group_to_its_definition():
    marketer = Group.objects.get(name="marketer")
    before = permissions("marketer")
    marketer.permissions.clear()

    out = StringIO()
    call_command("setup_roles", stdout=out)

    assert permissions("marketer") == before
    assert f"marketer: {len(before)} permissions" in out.getvalue()
    assert "Roles are up to date." in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("owner", True),
        ("manager", True),
        ("receptionist", False),
        ("salesperson", False),
        ("marketer", False),
    ],
)
def test_only_owner_and_manager_see_medical_information(role, allowed):
    assert member_of(role).has_perm("clients.view_medical_info") is allowed


@pytest.mark.django_db
def test_a_receptionist_books_and_takes_payments_but_cannot_delete_clients():
    receptionist = member_of("receptionist")

    assert receptionist.has_perms(
        [
            "appointments.add_appointment",
            "appointments.change_appointment",
            "packages.add_payment",
            "packages.add_packagepurchase",
            "clients.add_client",
            "clients.change_client",
        ]
    )
    assert not receptionist.has_perm("clients.delete_client")
    assert not receptionist.has_perm("appointments.delete_appointment")
    assert not receptionist.has_perm("packages.delete_payment")
    assert not receptionist.has_perm("auth.change_user")


@pytest.mark.django_db
def test_a_marketer_sees_appointments_but_cannot_change_them():
    marketer = member_of("marketer")

    assert marketer.has_perm("appointments.view_appointment")
    assert marketer.has_perm("clients.change_tag")
    assert not marketer.has_perm("appointments.change_appointment")
    assert not marketer.has_perm("appointments.add_appointment")
    assert not marketer.has_perm("clients.change_client")
    assert not marketer.has_perm("packages.view_payment")


@pytest.mark.django_db
def test_a_salesperson_cannot_change_payments():
    salesperson = member_of("salesperson")

    assert salesperson.has_perm("packages.add_payment")
    assert not salesperson.has_perm("packages.change_payment")


@pytest.mark.django_db
def test_only_the_owner_manages_users_and_schedules():
    owner, manager = member_of("owner"), member_of("manager")

    assert owner.has_perms(["auth.add_user", "django_celery_beat.add_periodictask"])
    assert manager.has_perm("django_celery_beat.change_periodictask")
    assert not manager.has_perm("django_celery_beat.delete_periodictask")
    assert not manager.has_perm("auth.add_user")


# --- Schedules --------------------------------------------------------------------


def schedule_rows() -> dict[str, tuple]:
    return {
        task.name: (
            task.task,
            task.enabled,
            task.crontab.minute,
            task.crontab.hour,
            task.crontab.day_of_week,
            str(task.crontab.timezone),
        )
        for task in PeriodicTask.objects.filter(
            name__in=[item.name for item in DEFAULT_SCHEDULES]
        ).select_related("crontab")
    }


DEFAULTS = {
    EXPIRE: (
        "packages.tasks.expire_package_purchases",
        True,
        "15",
        "0",
        "*",
        django_settings.TIME_ZONE,
    ),
    RECONCILE: (
        "clients.tasks.reconcile_client_figures",
        True,
        "30",
        "2",
        "*",
        django_settings.TIME_ZONE,
    ),
    FOLLOW_UPS: (
        "leads.tasks.process_follow_ups",
        True,
        "*/15",
        "*",
        "*",
        django_settings.TIME_ZONE,
    ),
    STALE_IMPORTS: (
        "leads.tasks.sweep_stale_imports",
        True,
        "*/10",
        "*",
        "*",
        django_settings.TIME_ZONE,
    ),
    TRIAL_REMINDERS: (
        "trials.tasks.send_due_trial_reminders",
        True,
        "*",
        "*",
        "*",
        django_settings.TIME_ZONE,
    ),
    ROOM_OCCUPANCY: (
        "scheduling.tasks.refresh_room_occupancy",
        True,
        "5",
        "*",
        "*",
        django_settings.TIME_ZONE,
    ),
    SEND_MESSAGES: (
        "communications.tasks.send_due_messages",
        True,
        "*",
        "*",
        "*",
        django_settings.TIME_ZONE,
    ),
    # The automated messages (communications.jobs).
    **{
        name: (
            f"communications.tasks_jobs.{task}",
            True,
            minute,
            hour,
            "*",
            django_settings.TIME_ZONE,
        )
        for name, (task, minute, hour) in JOB_SCHEDULES.items()
    },
    CAMPAIGNS: (
        "communications.tasks.run_due_campaigns",
        True,
        "*",
        "*",
        "*",
        django_settings.TIME_ZONE,
    ),
}


@pytest.fixture
def staff_edited():
    """The expiry job paused and the reconciliation moved to 03:45 on weekdays."""
    PeriodicTask.objects.filter(name=EXPIRE).update(enabled=False)
    weekdays, _ = CrontabSchedule.objects.get_or_create(
        minute="45",
        hour="3",
        day_of_week="1-5",
        day_of_month="*",
        month_of_year="*",
        timezone=django_settings.TIME_ZONE,
    )
    reconcile = PeriodicTask.objects.get(name=RECONCILE)
    reconcile.crontab = weekdays
    reconcile.description = "Weekdays only, after the backup"
    reconcile.save()
    return {
        **DEFAULTS,
        EXPIRE: (*DEFAULTS[EXPIRE][:1], False, *DEFAULTS[EXPIRE][2:]),
        RECONCILE: (
            DEFAULTS[RECONCILE][0],
            True,
            "45",
            "3",
            "1-5",
            django_settings.TIME_ZONE,
        ),
    }


@pytest.mark.django_db
def test_the_default_schedules_exist_after_migrate_in_the_business_time_zone():
    assert schedule_rows() == DEFAULTS
    for task in PeriodicTask.objects.filter(name__in=DEFAULTS):
        assert task.description  # when it runs, in words
        assert task.kwargs == "{}"


@pytest.mark.django_db
def test_ensuring_schedules_creates_the_missing_ones_in_the_configured_zone(settings):
    settings.TIME_ZONE = "Europe/Madrid"
    PeriodicTask.objects.filter(name__in=DEFAULTS).delete()

    created = ensure_schedules()

    assert created == [item.name for item in DEFAULT_SCHEDULES]
    assert set(created) == set(DEFAULTS)
    assert {row[5] for row in schedule_rows().values()} == {"Europe/Madrid"}


@pytest.mark.django_db
def test_ensuring_schedules_twice_creates_nothing():
    tasks, crontabs = PeriodicTask.objects.count(), CrontabSchedule.objects.count()

    assert ensure_schedules() == []
    assert ensure_schedules() == []
    assert (PeriodicTask.objects.count(), CrontabSchedule.objects.count()) == (
        tasks,
        crontabs,
    )


@pytest.mark.django_db
def test_the_setup_schedules_command_recreates_only_what_is_missing():
    PeriodicTask.objects.filter(name=RECONCILE).delete()

    out = StringIO()
    call_command("setup_schedules", stdout=out)

    assert f"kept: {EXPIRE}" in out.getvalue()
    assert f"created: {RECONCILE}" in out.getvalue()
    assert schedule_rows() == DEFAULTS


@pytest.mark.django_db
def test_staff_edits_to_schedules_survive_rerunning_setup(staff_edited):
    ensure_schedules()
    call_command("setup_schedules", stdout=StringIO())
    call_command("migrate", verbosity=0)  # post_migrate runs ensure_* again

    assert schedule_rows() == staff_edited
    assert (
        PeriodicTask.objects.get(name=RECONCILE).description
        == "Weekdays only, after the backup"
    )


# Beat commits and closes connections as it goes, so it runs outside a test transaction.
@pytest.mark.django_db(transaction=True)
def test_staff_edits_to_schedules_survive_a_beat_start(staff_edited):
    # The scheduler loads crontab tasks due within about two hours: start it at
    # 03:00 on a Wednesday, when the retimed reconciliation is near.
    start = dt.datetime(2026, 3, 11, 3, 0, tzinfo=ZoneInfo(django_settings.TIME_ZONE))
    with time_machine.travel(start, tick=False):
        scheduler = DatabaseScheduler(app=celery_app)
        entries = scheduler.schedule
        scheduler.sync()

    assert schedule_rows() == staff_edited
    assert EXPIRE not in entries  # paused: beat will not run it
    assert entries[RECONCILE].schedule.hour == {3}
    assert entries[RECONCILE].schedule.minute == {45}
    assert entries[RECONCILE].schedule.day_of_week == {1, 2, 3, 4, 5}


# --- Settings ---------------------------------------------------------------------


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the project's Python outside pytest, with the environment it is given."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(DJANGO_SETTINGS_MODULE="crm_project.settings", **env)
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


IMPORT_SETTINGS = "import django; django.setup(); from django.conf import settings; "


def test_a_production_start_without_a_secret_key_fails_clearly():
    result = run_python(
        "-c", IMPORT_SETTINGS + "print(settings.SECRET_KEY)", DEBUG="false"
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr
    assert result.stdout == ""


def test_local_development_starts_without_a_secret_key():
    result = run_python("-c", IMPORT_SETTINGS + "print(settings.DEBUG)", DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def deploy_check(secret_key: str) -> subprocess.CompletedProcess:
    return run_python(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="crm.example.com",
    )


def test_production_settings_pass_the_deploy_check():
    secret_key = secrets.token_urlsafe(45)[:60]
    assert len(secret_key) == 60

    result = deploy_check(secret_key)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_fails_on_a_weak_secret_key():
    result = deploy_check("short-and-guessable")

    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_the_test_run_uses_the_safe_defaults(settings):
    assert settings.TESTING is True
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == settings.CELERY_TIMEZONE
    assert settings.CELERY_TASK_IGNORE_RESULT is True
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert (
        settings.CELERY_BEAT_SCHEDULER
        == "django_celery_beat.schedulers:DatabaseScheduler"
    )
    assert settings.CRM_LIFECYCLE == {
        "NEW_MAX_VISITS": 2,
        "VIP_MIN_SPENT": 1500,
        "VIP_MIN_VISITS": 25,
        "AT_RISK_DAYS": 60,
        "CHURNED_DAYS": 180,
    }
