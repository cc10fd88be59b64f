"""The safety net for imports a worker never finished."""

import datetime as dt

import pytest
from django.utils import timezone

from leads.importing import sweep_stale_imports
from leads.models import ImportLog
from leads.tests.factories import ImportLogFactory

pytestmark = pytest.mark.django_db


def age(log: ImportLog, minutes: int) -> ImportLog:
    """Make ``log`` look untouched for ``minutes`` (auto_now hides it from save())."""
    ImportLog.objects.filter(pk=log.pk).update(
        updated_at=timezone.now() - dt.timedelta(minutes=minutes)
    )
    return log


def test_a_running_import_whose_worker_died_ends_failed_saying_how_far_it_got():
    # Given an import that stopped moving 45 minutes ago after 2,000 rows
    log = age(
        ImportLogFactory(status=ImportLog.Status.RUNNING, processed_rows=2000), 45
    )

    # When the sweep runs
    result = sweep_stale_imports()

    # Then it is failed with a message staff can act on
    log.refresh_from_db()
    assert (result.requeued, result.failed) == (0, 1)
    assert log.status == ImportLog.Status.FAILED
    assert "after 2000 rows" in log.error
    assert log.finished_at is not None


def test_a_lost_queued_import_is_queued_again(django_capture_on_commit_callbacks):
    # Given an import queued 45 minutes ago that no worker picked up (its file is
    # gone, so the re-queued run ends failed: the point is that it runs)
    log = age(ImportLogFactory(status=ImportLog.Status.QUEUED), 45)

    # When the sweep runs (Celery is eager in tests: the task runs on commit)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = sweep_stale_imports()

    # Then the import was sent to a worker again and no longer waits
    log.refresh_from_db()
    assert result.requeued == 1
    assert len(callbacks) == 1
    assert log.status != ImportLog.Status.QUEUED


def test_recent_and_finished_imports_are_left_alone():
    running = ImportLogFactory(status=ImportLog.Status.RUNNING)
    queued = ImportLogFactory(status=ImportLog.Status.QUEUED)
    done = age(ImportLogFactory(status=ImportLog.Status.DONE), 600)

    result = sweep_stale_imports()

    assert (result.requeued, result.failed) == (0, 0)
    statuses = dict(ImportLog.objects.values_list("pk", "status"))
    assert statuses == {
        running.pk: ImportLog.Status.RUNNING,
        queued.pk: ImportLog.Status.QUEUED,
        done.pk: ImportLog.Status.DONE,
    }
