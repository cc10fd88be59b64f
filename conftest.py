"""Shared fixtures. Markers: ``postgres`` and ``redis`` tests skip, with their reason,
unless DATABASE_URL / REDIS_URL point at real servers (CI sets both)."""

import os

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import translation

from crm_project.celery import app as celery_app

# Shared admin checks assert inside a helper module: rewrite it for useful failures.
pytest.register_assert_rewrite(
    "crm_project.tests.admin_testing", "crm_project.tests.concurrency"
)


def pytest_collection_modifyitems(config, items):
    uses_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres", "psql"))
    uses_redis = bool(os.environ.get("REDIS_URL"))
    for item in items:
        if "postgres" in item.keywords and not uses_postgres:
            item.add_marker(
                pytest.mark.skip(
                    reason="needs PostgreSQL: set DATABASE_URL=postgres://..."
                )
            )
        if "redis" in item.keywords and not uses_redis:
            item.add_marker(
                pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://...")
            )


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run in-process unless a test starts a real worker (marked ``redis``)."""
    eager = "redis" not in request.keywords
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    celery_app.conf.task_eager_propagates = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _default_language():
    """LocaleMiddleware activates the browser's language for the rest of the thread:
    a Spanish request must not turn the next test's messages Spanish."""
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"
