"""The launcher behind ``make run``: it must never leave a process behind."""

import importlib.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_dev.py"
spec = importlib.util.spec_from_file_location("run_dev", SCRIPT)
run_dev = importlib.util.module_from_spec(spec)
sys.modules.setdefault("run_dev", run_dev)  # dataclasses look their module up
spec.loader.exec_module(run_dev)

pytestmark = pytest.mark.skipif(
    not hasattr(os, "killpg"), reason="process groups are POSIX-only"
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
# A server that starts a grandchild in its group, like Django's autoreloader.
SLEEPER_WITH_GRANDCHILD = [
    sys.executable,
    "-c",
    "import subprocess, sys, time;"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    "time.sleep(60)",
]


def group_is_empty(pgid: int) -> bool:
    return not run_dev._group_alive(pgid)


def test_a_child_that_exits_stops_the_other_and_sets_the_exit_code():
    children = [
        run_dev.Child("web", SLEEPER_WITH_GRANDCHILD, signal.SIGINT, True),
        run_dev.Child("worker", [sys.executable, "-c", "raise SystemExit(3)"]),
    ]

    code = run_dev.supervise(children, threading.Event(), stop_timeout=5)

    assert code == 3
    assert all(not child.running() for child in children)
    assert group_is_empty(children[0].process.pid)


def test_a_stop_request_stops_every_child_and_its_group():
    children = [
        run_dev.Child("web", SLEEPER_WITH_GRANDCHILD, signal.SIGINT, True),
        run_dev.Child("worker", SLEEPER, signal.SIGTERM),
    ]
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()

    code = run_dev.supervise(children, stop, stop_timeout=5)

    assert code == 0
    for child in children:
        assert child.process.returncode is not None
        assert group_is_empty(child.process.pid)


def test_a_child_that_ignores_the_stop_signal_is_killed_after_the_timeout(tmp_path):
    ready = tmp_path / "ready"
    stubborn = [
        sys.executable,
        "-c",
        "import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)",
    ]
    children = [run_dev.Child("worker", stubborn, signal.SIGTERM)]
    stop = threading.Event()

    def stop_when_ready():
        for _ in range(200):
            if ready.exists():
                break
            time.sleep(0.05)
        stop.set()

    threading.Thread(target=stop_when_ready).start()

    code = run_dev.supervise(children, stop, stop_timeout=0.5)

    assert code == 0
    assert children[0].process.returncode == -signal.SIGKILL
    assert group_is_empty(children[0].process.pid)


def test_dev_children_run_the_web_server_and_a_worker_with_database_beat():
    web, worker = run_dev.dev_children("127.0.0.1:8000", 2, reload=False)

    assert web.argv[1:] == ["manage.py", "runserver", "127.0.0.1:8000", "--noreload"]
    assert "-B" in worker.argv
    assert "django_celery_beat.schedulers:DatabaseScheduler" in worker.argv
