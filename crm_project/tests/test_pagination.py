"""EstimatedCountPaginator and the indexed date hierarchy."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Max, Min
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment
from clients.models import Client
from clients.tests.factories import ClientFactory
from crm_project import pagination
from crm_project.demo import seed_demo
from crm_project.pagination import (
    EstimatedCountPaginator,
    IndexedDatesMixin,
    IndexedDatesQuerySetMixin,
    with_indexed_dates,
)
from packages.models import PackagePurchase

pytestmark = pytest.mark.django_db


def full_counts(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if "COUNT(" in q["sql"].upper() and " WHERE " not in q["sql"].upper()
    ]


@pytest.fixture
def demo(db):
    return seed_demo(clients=30, appointments_per_client=5, seed=11)


def test_small_tables_are_counted_exactly(db):
    ClientFactory.create_batch(7)

    assert EstimatedCountPaginator(Client.objects.all(), 5).count == 7
    assert EstimatedCountPaginator(Client.objects.filter(pk__lt=0), 5).count == 0


def test_a_deep_page_holds_the_same_rows_as_a_plain_slice(demo, monkeypatch):
    monkeypatch.setattr(pagination, "DEEP_OFFSET", 10)
    queryset = (
        Appointment.objects.select_related("client", "service")
        .prefetch_related("status_history")
        .order_by("-start_at", "-id")
    )
    ours = EstimatedCountPaginator(queryset, 7)
    plain = Paginator(queryset, 7)

    for number in (1, 2, 5, plain.num_pages):
        got = [a.pk for a in ours.page(number).object_list]
        assert got == [a.pk for a in plain.page(number).object_list]
    page = ours.page(4)
    with CaptureQueriesContext(connection) as captured:
        rows = list(page.object_list)
    assert rows[0].client.first_name  # joined, not one query per row
    assert len(captured) == 2  # the page's rows, their history


@pytest.mark.parametrize("kind", ["year", "month", "day"])
def test_indexed_datetimes_equal_the_distinct_query(demo, kind):
    queryset = Appointment.objects.all()
    if kind == "day":
        last = queryset.latest("start_at").start_at
        queryset = queryset.filter(start_at__year=last.year, start_at__month=last.month)

    indexed = with_indexed_dates(queryset)

    assert list(indexed.datetimes("start_at", kind)) == list(
        queryset.datetimes("start_at", kind)
    )
    assert list(indexed.datetimes("start_at", kind, order="DESC")) == list(
        queryset.datetimes("start_at", kind, order="DESC")
    )


def test_indexed_dates_keep_the_querysets_filters(demo):
    queryset = PackagePurchase.objects.filter(status=PackagePurchase.Status.EXPIRED)
    indexed = with_indexed_dates(queryset).filter(client__isnull=False)

    assert isinstance(indexed, IndexedDatesQuerySetMixin)
    assert list(indexed.dates("purchased_on", "month")) == list(
        queryset.dates("purchased_on", "month")
    )
    assert list(with_indexed_dates(queryset.none()).dates("purchased_on", "year")) == []


def test_the_changelist_uses_indexed_dates_unless_searching(demo):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    model_admin = type(
        "DatedAdmin",
        (IndexedDatesMixin, admin.ModelAdmin),
        {"date_hierarchy": "start_at", "search_fields": ["client__last_name"]},
    )(Appointment, admin.site)

    def changelist(**params):
        request = RequestFactory().get("/", params)
        request.user = user
        return model_admin.get_changelist_instance(request)

    assert isinstance(changelist().queryset, IndexedDatesQuerySetMixin)
    assert changelist().queryset.probe_periods
    searched = changelist(q="a").queryset
    assert not searched.probe_periods
    assert list(searched.datetimes("start_at", "month")) == list(
        Appointment.objects.filter(client__last_name__icontains="a").datetimes(
            "start_at", "month"
        )
    )


def test_the_bounds_the_date_hierarchy_read_are_not_read_again(demo):
    queryset = with_indexed_dates(Appointment.objects.all())
    bounds = queryset.aggregate(first=Min("start_at"), last=Max("start_at"))

    with CaptureQueriesContext(connection) as captured:
        years = list(queryset.datetimes("start_at", "year"))

    assert years == list(Appointment.objects.datetimes("start_at", "year"))
    assert years[0].year == timezone.localtime(bounds["first"]).year
    assert len(captured) == (1 if len(years) > 2 else 0)


@pytest.mark.postgres
def test_small_postgres_tables_are_counted_exactly(db):
    ClientFactory.create_batch(12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clients_client")

    with CaptureQueriesContext(connection) as captured:
        count = EstimatedCountPaginator(Client.objects.all(), 5).count

    assert count == 12
    assert not any("EXPLAIN" in q["sql"] for q in captured)


@pytest.mark.postgres
def test_a_big_postgres_table_is_estimated_without_a_full_count(db, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 20)
    ClientFactory.create_batch(60)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clients_client")

    with CaptureQueriesContext(connection) as captured:
        unfiltered = EstimatedCountPaginator(Client.objects.all(), 10).count
        filtered = EstimatedCountPaginator(
            Client.objects.filter(first_name__gte=""), 10
        ).count

    assert unfiltered == 60  # ANALYZE read every row of so small a table
    assert filtered >= 20
    assert not full_counts(captured)
    assert any("pg_class" in q["sql"] for q in captured)
    assert any(q["sql"].startswith("EXPLAIN") for q in captured)


@pytest.mark.postgres
def test_a_capped_count_below_the_limit_is_exact(db, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_BELOW", 20)
    ClientFactory.create_batch(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clients_client")
    few = Client.objects.order_by("pk").values_list("pk", flat=True)[:5]

    count = EstimatedCountPaginator(Client.objects.filter(pk__in=list(few)), 10).count

    assert count == 5
