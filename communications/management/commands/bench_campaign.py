"""Benchmark a campaign to a large segment on PostgreSQL, through the real broker.

Seeds N clients (most with email consent, some opted out, some over the frequency
cap) in a segment of their own, then measures:

(a) enqueue: from "send now" until every chunk has enqueued its messages — wall
    time, and every broker message published on the way (counted with Celery's
    ``before_task_publish`` signal: the chunk tasks and the sender tasks the chunks
    queue). The tasks go to a private queue on the configured broker; this
    process takes each chunk task from it and hands it to one of ``--workers``
    spawned processes (2 by default, a worker's concurrency), and prints how many
    chunks each ran and how many ran at once;
(b) the sender, with the no-op channel backend: the sender tasks (a) published,
    run in this process — messages per second, and database queries per 1,000
    messages (counted with ``connection.execute_wrapper``).

Everything it wrote is removed at the end (``--keep`` keeps it).
"""

import datetime as dt
import multiprocessing
import time
import uuid
from collections import Counter

from celery.signals import before_task_publish
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from kombu import Exchange, Queue

from clients.models import Client, Interaction, Tag
from communications.campaigns import run_due_campaigns, send_campaign_now
from communications.models import (
    Campaign,
    CampaignChunk,
    Channel,
    ContactPreferences,
    Message,
    MessageKind,
    MessageTemplate,
    OptOut,
    Segment,
)
from crm_project.celery import app

from ._campaign_bench_worker import init_worker, ready, run_task

TARGET_SECONDS = 5.0
TARGET_BROKER_MESSAGES = 100
TARGET_RATE = 1000
NOOP = "communications.channels.noop.NoopBackend"
CHUNK_TASK = "communications.tasks.send_campaign_chunk"
SENDER_TASK = "communications.tasks.send_due_messages"


def _parallelism(spans: list[tuple[int, float, float]]) -> str:
    """Which worker processes ran how many chunks, and how many ran at once."""
    per_process = Counter(pid for pid, _start, _end in spans)
    events = sorted(
        [(start, 1) for _pid, start, _end in spans]
        + [(end, -1) for _pid, _start, end in spans]
    )
    running = most = 0
    for _moment, step in events:
        running += step
        most = max(most, running)
    shares = " + ".join(str(n) for n in sorted(per_process.values(), reverse=True))
    return (
        f"Chunks per worker process: {shares} ({len(per_process)} processes); "
        f"at most {most} running at once"
    )


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = (
        "Benchmark a campaign (PostgreSQL): enqueue time and broker messages for a "
        "large segment, sender messages/s and queries per 1,000 messages."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clients", type=int, default=50_000)
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="worker processes running the chunk tasks (a worker's concurrency)",
        )
        parser.add_argument("--keep", action="store_true", help="keep the rows")

    def handle(self, *args, clients: int, workers: int, keep: bool, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_campaign needs PostgreSQL (set DATABASE_URL).")
        self.run_id = uuid.uuid4().hex[:8]
        self.queue = f"bench-campaign-{self.run_id}"
        self.workers = workers
        app.loader.import_default_modules()  # registers the tasks, as a worker does
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = False
        context = multiprocessing.get_context("spawn")
        self.published_by_workers = context.Value("i", 0)
        self.pool = context.Pool(
            workers,
            initializer=init_worker,
            initargs=(
                self.published_by_workers,
                connection.settings_dict["NAME"],
                settings.SECRET_KEY,
            ),
        )
        try:
            # Started (Django set up in each) before the clock runs. A worker that
            # cannot start is replaced by the pool forever: give up after a while.
            try:
                self.pool.map_async(ready, range(workers)).get(timeout=120)
            except multiprocessing.TimeoutError as exc:
                raise CommandError(
                    "The benchmark's worker processes did not start within 120 s."
                ) from exc
            with override_settings(
                COMMUNICATIONS_EMAIL_BACKEND=NOOP,
                COMMUNICATIONS_QUIET_HOURS_START="00:00",
                COMMUNICATIONS_QUIET_HOURS_END="00:00",
            ):
                campaign = self.seed(clients)
                enqueue_ok, senders = self.measure_enqueue(campaign)
                send_ok = self.measure_sender(campaign, senders)
        finally:
            self.pool.close()
            self.pool.join()
            app.conf.task_always_eager = eager
            self.delete_queue()
            if not keep:
                self.clean_up()
        verdict = "PASS" if enqueue_ok and send_ok else "FAIL"
        self.stdout.write(f"Overall: {verdict}")

    # --- seeding -------------------------------------------------------------------

    def seed(self, count: int) -> Campaign:
        started = time.perf_counter()
        now = timezone.now()
        self.tag = Tag.objects.create(name=f"bench-{self.run_id}")
        Client.objects.bulk_create(
            (
                Client(
                    first_name=f"Bench{i}",
                    last_name=self.run_id,
                    email=f"bench-{self.run_id}-{i}@bench.invalid",
                    lifecycle_stage=Client.Stage.ACTIVE,
                )
                for i in range(count)
            ),
            batch_size=5000,
        )
        ids = list(
            Client.objects.filter(last_name=self.run_id)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        self.client_ids = ids
        Client.tags.through.objects.bulk_create(
            (Client.tags.through(client_id=pk, tag_id=self.tag.pk) for pk in ids),
            batch_size=10000,
        )
        # 90% consent by email; 2% of those opted out; 3% of those over the cap
        # (a marketing email sent yesterday, and the cap is one a week).
        consenting = [pk for n, pk in enumerate(ids) if n % 10]
        ContactPreferences.objects.bulk_create(
            (
                ContactPreferences(
                    client_id=pk, marketing_email=True, marketing_email_at=now
                )
                for pk in consenting
            ),
            batch_size=10000,
        )
        opted_out = consenting[::50]
        OptOut.objects.bulk_create(
            (OptOut(client_id=pk, kind=MessageKind.CAMPAIGN) for pk in opted_out),
            batch_size=10000,
        )
        yesterday = now - dt.timedelta(days=1)
        capped = consenting[1::33]
        Message.objects.bulk_create(
            (
                Message(
                    kind=MessageKind.BIRTHDAY,
                    channel=Channel.EMAIL,
                    client_id=pk,
                    to_address="x@bench.invalid",
                    status=Message.Status.SENT,
                    send_after=yesterday,
                    sent_at=yesterday,
                    idempotency_key=f"bench:{self.run_id}:{pk}",
                )
                for pk in capped
            ),
            batch_size=10000,
        )
        self.expected = Counter(
            {
                "skipped:no_consent": len(ids) - len(consenting),
                "skipped:opted_out": len(opted_out),
                "skipped:capped": len(set(capped) - set(opted_out)),
            }
        )
        self.expected["queued"] = len(ids) - sum(self.expected.values())
        template = MessageTemplate.objects.create(
            kind=MessageKind.CAMPAIGN,
            name=f"bench-{self.run_id}",
            channel=Channel.EMAIL,
            language="en",
            subject="Spring at {{ business.name }}",
            body_text="Hi {{ recipient_name }}, 20% off this week.\n"
            "Unsubscribe: {{ unsubscribe_url }}",
            body_html="<p>Hi {{ recipient_name }}, <b>20% off</b> this week.</p>"
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
        )
        segment = Segment.objects.create(name=f"bench-{self.run_id}")
        segment.tags_included.set([self.tag])
        campaign = Campaign.objects.create(
            name=f"bench-{self.run_id}",
            template=template,
            segment=segment,
            channel=Channel.EMAIL,
        )
        connection.cursor().execute("ANALYZE")
        self.stdout.write(
            f"Seeded {len(ids):,} clients in {time.perf_counter() - started:.1f} s: "
            f"{len(consenting):,} with email consent, {len(opted_out):,} opted out, "
            f"{len(capped):,} over the cap."
        )
        return campaign

    # --- (a) enqueue -----------------------------------------------------------------

    def _queue(self) -> Queue:
        return Queue(self.queue, Exchange(self.queue, type="direct"), self.queue)

    def measure_enqueue(self, campaign: Campaign) -> tuple[bool, list[dict]]:
        """Start the campaign and run its chunk tasks from the broker in the worker
        processes; the clock stops when the last chunk has enqueued its messages."""
        published: Counter = Counter()

        def count(sender=None, **kwargs):
            published[sender] += 1

        before_task_publish.connect(count, weak=False)
        senders: list[dict] = []
        try:
            started = time.perf_counter()
            send_campaign_now(campaign, by=None, queue=self.queue)
            chunks = CampaignChunk.objects.filter(campaign=campaign).count()
            running = []
            with app.connection_for_read() as conn:
                simple = conn.SimpleQueue(self._queue())
                try:
                    while len(running) < chunks:
                        message = simple.get(timeout=30)
                        name = message.headers["task"]
                        task_args, task_kwargs, _embed = message.decode()
                        message.ack()
                        if name == CHUNK_TASK:
                            running.append(
                                self.pool.apply_async(
                                    run_task, (name, task_args, task_kwargs)
                                )
                            )
                        else:
                            senders.append({"name": name, "kwargs": task_kwargs})
                    spans = [result.get(timeout=600) for result in running]
                    elapsed = time.perf_counter() - started
                    # The sender tasks the chunks queued wait in the queue.
                    while True:
                        try:
                            message = simple.get(timeout=1)
                        except simple.Empty:
                            break
                        task_args, task_kwargs, _embed = message.decode()
                        message.ack()
                        senders.append(
                            {"name": message.headers["task"], "kwargs": task_kwargs}
                        )
                finally:
                    simple.close()
        finally:
            before_task_publish.disconnect(count)
        # What the worker processes published (the chunks' sender tasks).
        published[SENDER_TASK] += self.published_by_workers.value
        outcomes = Counter(
            f"skipped:{reason}" if status == Message.Status.SKIPPED else "queued"
            for status, reason in Message.objects.filter(campaign=campaign).values_list(
                "status", "reason"
            )
        )
        undone = CampaignChunk.objects.filter(
            campaign=campaign, done_at__isnull=True
        ).count()
        total = sum(published.values())
        fast = elapsed < TARGET_SECONDS
        few = total <= TARGET_BROKER_MESSAGES
        right = outcomes == self.expected and not undone
        self.stdout.write(
            f"(a) Enqueue of a campaign to {len(self.client_ids):,} clients: "
            f"{elapsed:.2f} s with {self.workers} worker processes "
            f"(target < {TARGET_SECONDS:.0f} s) {'PASS' if fast else 'FAIL'}"
        )
        detail = ", ".join(
            f"{n} {name.rsplit('.', 1)[-1]}" for name, n in sorted(published.items())
        )
        self.stdout.write(
            f"    Broker messages published: {total} ({detail}) "
            f"(target <= {TARGET_BROKER_MESSAGES}) {'PASS' if few else 'FAIL'}"
        )
        self.stdout.write(f"    {_parallelism(spans)}")
        expected = dict(sorted(self.expected.items()))
        self.stdout.write(
            f"    Outcomes: {dict(sorted(outcomes.items()))} "
            f"{'as seeded' if right else f'expected {expected}'}"
            f" ({chunks} chunks)"
        )
        return fast and few and right, senders

    # --- (b) sender ------------------------------------------------------------------

    def measure_sender(self, campaign: Campaign, senders: list[dict]) -> bool:
        counter = QueryCounter()
        sent: Counter = Counter()
        due = Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED)
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            for sender in senders:
                result = app.tasks[sender["name"]].apply(kwargs=sender["kwargs"])
                sent.update(result.get())
            # Whatever the woken senders left is the every-minute run's.
            while due.exists():
                result = app.tasks["communications.tasks.send_due_messages"].apply()
                sent.update(result.get())
        elapsed = time.perf_counter() - started
        delivered = sent["sent"]
        rate = delivered / elapsed if elapsed else 0.0
        per_thousand = counter.count / delivered * 1000 if delivered else 0.0
        ok = rate >= TARGET_RATE
        self.stdout.write(
            f"(b) Sender (no-op backend): {delivered:,} messages in {elapsed:.2f} s = "
            f"{rate:,.0f} messages/s (target >= {TARGET_RATE:,}) "
            f"{'PASS' if ok else 'FAIL'}"
        )
        self.stdout.write(
            f"    Queries: {counter.count:,} = {per_thousand:.1f} per 1,000 messages "
            f"({len(senders)} sender tasks; timeline entries written with them)"
        )
        finished = run_due_campaigns()
        campaign.refresh_from_db()
        self.stdout.write(
            f"    Campaign status afterwards: {campaign.status} ({dict(finished)})"
        )
        return ok

    # --- cleaning up ---------------------------------------------------------------

    def delete_queue(self) -> None:
        try:
            with app.connection_for_write() as conn:
                self._queue()(conn.default_channel).delete()
        except Exception as exc:  # noqa: BLE001 - cleaning up is best effort
            self.stderr.write(f"Could not delete the queue {self.queue}: {exc}")

    def clean_up(self) -> None:
        ids = getattr(self, "client_ids", [])
        started = time.perf_counter()
        name = f"bench-{self.run_id}"
        with transaction.atomic(), connection.cursor() as cursor:
            # Straight DELETEs for the big tables (the ORM's collector would read
            # every row first); the rows only this benchmark wrote.
            for model, column in (
                (Interaction, "client_id"),
                (OptOut, "client_id"),
                (Message, "client_id"),
                (ContactPreferences, "client_id"),
                (Client.tags.through, "client_id"),
            ):
                cursor.execute(
                    f"DELETE FROM {model._meta.db_table} "  # noqa: S608 - our names
                    f"WHERE {column} = ANY(%s)",
                    [ids],
                )
            Campaign.objects.filter(name=name).delete()
            Segment.objects.filter(name=name).delete()
            MessageTemplate.objects.filter(name=name).delete()
            cursor.execute(
                f"DELETE FROM {Client._meta.db_table} WHERE id = ANY(%s)",  # noqa: S608
                [ids],
            )
            Tag.objects.filter(name=name).delete()
        self.stdout.write(
            "Removed what the benchmark wrote in "
            f"{time.perf_counter() - started:.1f} s."
        )
