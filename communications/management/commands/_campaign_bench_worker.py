"""The worker processes of ``bench_campaign`` (a module Django does not list as a
command: its name starts with an underscore).

Spawned, not forked, so each opens its own database and broker connections; nothing
Django is imported at the top, since a spawned process unpickles these functions
before Django is set up.
"""

import os

_published = None


def init_worker(counter, database_name: str, secret_key: str) -> None:
    """Set up Django on the benchmark's database and count what this process
    publishes to the broker in ``counter`` (a shared integer).

    The parent's secret key is passed on: a parent started by the test runner or
    with DEBUG may have none in its environment, and settings refuse to start
    without one.
    """
    global _published
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    os.environ.setdefault("SECRET_KEY", secret_key)
    import django

    django.setup()
    from celery.signals import before_task_publish
    from django.conf import settings

    from crm_project.celery import app

    settings.DATABASES["default"]["NAME"] = database_name
    app.conf.task_always_eager = False
    app.loader.import_default_modules()  # registers the tasks, as a worker does
    _published = counter
    before_task_publish.connect(_count, weak=False)


def _count(sender=None, **kwargs) -> None:
    with _published.get_lock():
        _published.value += 1


def ready(_n: int = 0) -> bool:
    return True


def run_task(name: str, args, kwargs) -> tuple[int, float, float]:
    """Run a task taken from the broker here, as a worker would; errors propagate.
    Returns this process's id and when the task started and ended (wall clock), so
    the benchmark can show the chunks really ran side by side."""
    import time

    from crm_project.celery import app

    started = time.time()
    app.tasks[name].apply(args=args, kwargs=kwargs).get()
    return os.getpid(), started, time.time()
