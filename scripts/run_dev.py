#!/usr/bin/env python
"""Run the CRM for development: the web server and a Celery worker with embedded beat.

``make run`` calls this after migrating and seeding. Each child runs in its own process
group, so a Ctrl-C in the terminal reaches only this launcher, which then stops the
children in order (Celery gets its warm shutdown) and sweeps their groups so nothing is
left behind. If either child exits, the other is stopped and the launcher exits with
that child's code.

    python scripts/run_dev.py [--addr 127.0.0.1:8000] [--concurrency 2] [--noreload]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 20.0  # seconds a child gets to finish what it is doing
POLL_INTERVAL = 0.2


@dataclass
class Child:
    name: str
    argv: list[str]
    # How to ask it to stop: Django's autoreloader runs the server in a grandchild,
    # so the web server is interrupted as a group; Celery's main process is sent
    # SIGTERM (warm shutdown) and stops its own pool.
    stop_signal: signal.Signals = signal.SIGTERM
    signal_group: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (argv built here, no shell)
            self.argv,
            cwd=BASE_DIR,
            env=env,
            process_group=0,
            preexec_fn=_die_with_parent,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def request_stop(self) -> None:
        if not self.running():
            return
        if self.signal_group:
            _killpg(self.process.pid, self.stop_signal)
        else:
            self.process.send_signal(self.stop_signal)

    def group_alive(self) -> bool:
        return self.process is not None and _group_alive(self.process.pid)

    def kill_group(self) -> None:
        """SIGKILL whatever is left in the child's process group."""
        if self.process is not None:
            _killpg(self.process.pid, signal.SIGKILL)


def _killpg(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies waiting for init to reap
    them do not count (they hold no port, file or lock)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after it.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _die_with_parent() -> None:
    """Runs in the child before exec: if the launcher is killed outright (kill -9),
    Linux sends the child SIGTERM, so it does not keep port 8000 or the queue."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def supervise(
    children: list[Child],
    stop: threading.Event,
    *,
    env: dict[str, str] | None = None,
    stop_timeout: float = STOP_TIMEOUT,
    force: threading.Event | None = None,
) -> int:
    """Start the children, wait until one exits or ``stop`` is set, stop the rest.

    Returns 0 when stopped on request, else the exit code of the child that ended
    first (1 if it ended with 0: an unexpected exit is a failure for a server).
    """
    force = force or threading.Event()
    env = dict(os.environ if env is None else env)
    code = 0
    try:
        for child in children:
            child.start(env)
        while not stop.is_set():
            ended = next((c for c in children if not c.running()), None)
            if ended is not None:
                returncode = ended.process.returncode
                print(
                    f"run_dev: {ended.name} exited with code {returncode}; "
                    "stopping the rest.",
                    file=sys.stderr,
                    flush=True,
                )
                code = returncode or 1
                break
            stop.wait(POLL_INTERVAL)
    finally:
        _stop_all(children, stop_timeout, force)
    return code


def _stop_all(children: list[Child], timeout: float, force: threading.Event) -> None:
    for child in children:
        child.request_stop()
    deadline = time.monotonic() + timeout
    while any(c.running() for c in children):
        if force.is_set() or time.monotonic() > deadline:
            print("run_dev: killing what is left.", file=sys.stderr, flush=True)
            break
        time.sleep(POLL_INTERVAL)
    for child in children:
        child.kill_group()
        if child.process is not None:
            child.process.wait()
    # Grandchildren (the autoreloader's server, Celery's pool) are reaped by init;
    # give that a moment so "stopped" means nothing is left.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(c.group_alive() for c in children):
        time.sleep(0.05)


def prepare_broker_folders() -> None:
    """Set Django up once: CrmProjectConfig.ready() creates the broker folders that
    kombu's filesystem transport expects."""
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")
    import django

    django.setup()


def announce_when_listening(addr: str, banner: str, stop: threading.Event) -> None:
    """Print the banner (the admin login) once the web server accepts connections,
    below the start-up logs, where a newcomer looks for it."""
    host, _, port = addr.rpartition(":")
    while not stop.is_set():
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
                break
        except OSError:
            stop.wait(0.5)
    else:
        return
    stop.wait(1.5)  # let the worker's banner go by first
    if not stop.is_set():
        line = "=" * 72
        url = f"http://{addr}/admin/"
        print(f"\n{line}\nThe CRM is up: {url}\n{banner}\n{line}\n", flush=True)


def dev_children(addr: str, concurrency: int, reload: bool) -> list[Child]:
    python = sys.executable
    runserver = [python, "manage.py", "runserver", addr]
    if not reload:
        runserver.append("--noreload")
    worker = [
        python,
        "-m",
        "celery",
        "-A",
        "crm_project",
        "worker",
        "-B",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
    ]
    return [
        Child("web", runserver, stop_signal=signal.SIGINT, signal_group=True),
        Child("worker", worker, stop_signal=signal.SIGTERM),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:8000")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--noreload", action="store_true", help="do not restart the web server on edits"
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="only create the broker folders (make run does this before migrating)",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DEBUG", "true")
    prepare_broker_folders()
    if args.prepare:
        return 0

    stop, force = threading.Event(), threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            force.set()  # a second Ctrl-C: do not wait for a warm shutdown
        else:
            print(f"\nrun_dev: stopping ({signal.Signals(signum).name})...", flush=True)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    children = dev_children(args.addr, args.concurrency, reload=not args.noreload)
    # make run passes ensure_admin's output here, not on the command line (ps shows
    # arguments to every user).
    banner = os.environ.pop("RUN_DEV_BANNER", "").strip()
    if banner:
        threading.Thread(
            target=announce_when_listening,
            args=(args.addr, banner, stop),
            daemon=True,
        ).start()
    print(
        f"run_dev: web on http://{args.addr}/admin/ and a Celery worker with beat. "
        "Ctrl-C stops both.",
        flush=True,
    )
    code = supervise(children, stop, force=force)
    print("run_dev: stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
