"""The nightly jobs, run by a real Celery worker through Redis on the test database.

The worker is a separate process, as in production: it reads the rows this test
committed and writes the results the test then reads back. It consumes only its own
uniquely named queue, so no other worker can take these tasks.
"""

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from clients.models import Client
from clients.tasks import reconcile_client_figures
from clients.tests.factories import ClientFactory
from packages.models import PackagePurchase
from packages.tasks import expire_package_purchases
from packages.tests.factories import PackagePurchaseFactory, PaymentFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT = 60


def test_database_url() -> str:
    """DATABASE_URL with its database swapped for the one this test run uses."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


test_database_url.__test__ = False  # a helper, not a test


def wait_for(condition, *, what: str, log: Path, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}):\n{log.read_text()}")
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{log.read_text()}")


@contextlib.contextmanager
def running_worker(
    queue: str,
    log: Path,
    *,
    node: str = "",
    pool: str = "solo",
    concurrency: int = 1,
    env: dict | None = None,
    forget_queue: bool = True,
):
    """A ``celery worker`` process consuming only ``queue``, against the test
    database, logging to ``log``; yields the process once it is ready, stops it
    after. ``env`` adds settings for the worker; ``forget_queue`` removes the
    queue's keys from Redis afterwards (leave it to the last worker on a queue)."""
    environment = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DEBUG": "false",
        "CONN_MAX_AGE": "0",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "LOG_LEVEL": "INFO",
        **(env or {}),
    }
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "crm_project",
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "-Q",
        queue,
        "-n",
        f"{node or queue}@%h",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: " ready." in log.read_text(),
            what="the worker to start",
            log=log,
            worker=process,
        )
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if forget_queue:
            # Leave nothing of this queue behind in Redis.
            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            client.delete(
                queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
            )
            client.close()


@pytest.fixture
def worker(tmp_path):
    """A worker process on a queue of its own; yields (queue, log path, process)."""
    queue = f"crm-test-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    with running_worker(queue, log) as process:
        yield queue, log, process


def test_a_real_worker_expires_purchases_and_reconciles_drifted_figures(worker):
    queue, log, process = worker
    today = timezone.localdate()
    lapsed = PackagePurchaseFactory(
        purchased_on=today - dt.timedelta(days=70),
        expires_on=today - dt.timedelta(days=10),
    )
    valid = PackagePurchaseFactory(
        purchased_on=today, expires_on=today + dt.timedelta(days=60)
    )
    drifted = ClientFactory()
    PaymentFactory(client=drifted, amount=Decimal("300.00"))
    expected_stage = Client.objects.get(pk=drifted.pk).lifecycle_stage
    Client.objects.filter(pk=drifted.pk).update(
        total_spent=Decimal("0"), lifecycle_stage=Client.Stage.VIP
    )

    expire_package_purchases.apply_async(queue=queue)
    reconcile_client_figures.apply_async(queue=queue)

    wait_for(
        lambda: (
            PackagePurchase.objects.get(pk=lapsed.pk).status
            == PackagePurchase.Status.EXPIRED
        ),
        what="the lapsed purchase to expire",
        log=log,
        worker=process,
    )
    wait_for(
        lambda: Client.objects.get(pk=drifted.pk).total_spent == Decimal("300.00"),
        what="the drifted figures to be corrected",
        log=log,
        worker=process,
    )
    assert PackagePurchase.objects.get(pk=valid.pk).status == (
        PackagePurchase.Status.ACTIVE
    )
    assert Client.objects.get(pk=drifted.pk).lifecycle_stage == expected_stage
    wait_for(
        lambda: "1 corrected" in log.read_text(),
        what="the reconciliation to report what it corrected",
        log=log,
        worker=process,
    )
    output = log.read_text()
    assert "Package purchases expired: 1" in output
    assert "expire_package_purchases" in output and "succeeded" in output
