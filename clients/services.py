import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .figures import FIGURE_FIELDS, SourceAggregates, aggregate_sources, compute_figures
from .models import Client

logger = logging.getLogger(__name__)


def refresh_client_figures(client_id: int) -> Client | None:
    """Recompute one client's figures from their appointments and payments.

    Locks the client row first, so that two transactions changing the same client's
    visits or payments recompute one after the other and the later sees the earlier's
    rows. Idempotent: a repeat call writes the same values.
    """
    with transaction.atomic():
        client = Client.objects.select_for_update().filter(pk=client_id).first()
        if client is None:
            return None
        now = timezone.now()
        agg = aggregate_sources([client_id], now).get(client_id, SourceAggregates())
        figures = compute_figures(agg, timezone.localdate(now))
        for field, value in figures.items():
            setattr(client, field, value)
        client.figures_updated_at = now
        client.save(update_fields=[*FIGURE_FIELDS, "figures_updated_at", "updated_at"])
        return client


@dataclass(frozen=True)
class ReconcileResult:
    checked: int
    corrected: int


def reconcile_client_figures(*, batch_size: int = 2000) -> ReconcileResult:
    """Recompute every client's figures in batches and correct those that drifted.

    Drift comes from writes that bypass signals (bulk loads, raw SQL) and from time
    itself (a client becomes at risk without any row changing). Reads two grouped
    queries per batch and writes only the clients whose figures differ.
    """
    now = timezone.now()
    today = timezone.localdate(now)
    checked = corrected = 0
    last_id = 0
    while True:
        batch = list(
            Client.objects.filter(pk__gt=last_id)
            .order_by("pk")
            .only("pk", *FIGURE_FIELDS)[:batch_size]
        )
        if not batch:
            break
        last_id = batch[-1].pk
        aggregates = aggregate_sources([c.pk for c in batch], now)
        suspects = [
            client.pk
            for client in batch
            if _differs(client, aggregates.get(client.pk, SourceAggregates()), today)
        ]
        if suspects:
            corrected += _correct(suspects, now)
        checked += len(batch)
    logger.info(
        "Client figures reconciled: %s checked, %s corrected", checked, corrected
    )
    return ReconcileResult(checked=checked, corrected=corrected)


def _differs(client: Client, agg: SourceAggregates, today) -> bool:
    figures = compute_figures(agg, today)
    return any(getattr(client, field) != value for field, value in figures.items())


def _correct(client_ids: list[int], now) -> int:
    """Lock the drifted clients, recompute them from rows read after the lock, write."""
    today = timezone.localdate(now)
    with transaction.atomic():
        clients = list(Client.objects.select_for_update().filter(pk__in=client_ids))
        aggregates = aggregate_sources(client_ids, now)
        changed = []
        for client in clients:
            agg = aggregates.get(client.pk, SourceAggregates())
            if not _differs(client, agg, today):
                continue
            for field, value in compute_figures(agg, today).items():
                setattr(client, field, value)
            client.figures_updated_at = now
            changed.append(client)
        Client.objects.bulk_update(
            changed, [*FIGURE_FIELDS, "figures_updated_at"], batch_size=500
        )
    return len(changed)
