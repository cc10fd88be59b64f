"""Threads that really race, for the PostgreSQL concurrency tests."""

import threading

from django.db import connection

TIMEOUT = 60


def race(threads: int, work) -> list:
    """Run ``work(i)`` in ``threads`` threads released together; each returns a list
    of outcomes (values or exceptions), flattened in no particular order. Every thread
    closes its own database connection."""
    barrier = threading.Barrier(threads)
    outcomes: list = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT)
            result = work(i)
        except Exception as exc:  # the test inspects what was raised
            result = [exc]
        finally:
            connection.close()
        with lock:
            outcomes.extend(result)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=TIMEOUT)
    assert not any(worker.is_alive() for worker in workers), "a thread hung"
    return outcomes
