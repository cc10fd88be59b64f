import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Status as AppointmentStatus
from appointments.tests.factories import AppointmentFactory
from clients.models import Client
from clients.tests.factories import ClientFactory, TagFactory
from communications.models import Segment
from communications.segments import (
    segment_client_ids,
    segment_clients,
    segment_count,
    segment_sample,
)
from packages.models import PackagePurchase
from packages.tests.factories import PackagePurchaseFactory
from services.tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def client_with(**figures) -> Client:
    """A client whose denormalised figures are set by hand (as if recomputed)."""
    client = ClientFactory()
    Client.objects.filter(pk=client.pk).update(**figures)
    return client


def matched(segment, **criteria) -> set[int]:
    return set(segment_clients(segment, **criteria).values_list("pk", flat=True))


def segment(**criteria) -> Segment:
    return Segment.objects.create(name=f"s{Segment.objects.count()}", **criteria)


def at_local(days_ago: int, hour: int) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(
        day, dt.time(hour), tzinfo=timezone.get_current_timezone()
    )


def test_a_segment_without_criteria_matches_every_client():
    clients = {ClientFactory().pk for _ in range(3)}

    assert matched(segment()) == clients


def test_min_visits_and_min_spent_keep_clients_at_or_above_them():
    regular = client_with(total_visits=5, total_spent=Decimal("500.00"))
    client_with(total_visits=4, total_spent=Decimal("900.00"))
    client_with(total_visits=9, total_spent=Decimal("499.99"))

    assert matched(segment(min_visits=5, min_spent=Decimal("500"))) == {regular.pk}


def test_days_since_last_visit_count_calendar_days_in_the_business_time_zone():
    late_yesterday = client_with(last_visit_at=at_local(1, 23))
    ten_days = client_with(last_visit_at=at_local(10, 8))
    ninety_days = client_with(last_visit_at=at_local(90, 12))
    client_with(last_visit_at=None)

    assert matched(segment(max_days_since_last_visit=1)) == {late_yesterday.pk}
    assert matched(segment(max_days_since_last_visit=10)) == {
        late_yesterday.pk,
        ten_days.pk,
    }
    assert matched(segment(min_days_since_last_visit=90)) == {ninety_days.pk}
    assert matched(segment(min_days_since_last_visit=10)) == {
        ten_days.pk,
        ninety_days.pk,
    }
    assert matched(
        segment(min_days_since_last_visit=2, max_days_since_last_visit=30)
    ) == {ten_days.pk}


def test_tags_included_match_any_of_them_and_excluded_remove_any_of_them():
    vip, yoga, banned = TagFactory(), TagFactory(), TagFactory()
    both = ClientFactory()
    both.tags.add(vip, yoga)
    only_yoga = ClientFactory()
    only_yoga.tags.add(yoga)
    yoga_banned = ClientFactory()
    yoga_banned.tags.add(yoga, banned)
    untagged = ClientFactory()
    chosen = segment()
    chosen.tags_included.set([vip, yoga])
    chosen.tags_excluded.set([banned])

    assert matched(chosen) == {both.pk, only_yoga.pk}
    without_banned = segment()
    without_banned.tags_excluded.set([banned])
    assert matched(without_banned) == {both.pk, only_yoga.pk, untagged.pk}


def test_a_campaign_reads_the_ids_of_the_saved_segment_in_id_order():
    vip, banned = TagFactory(), TagFactory()
    sauna = ServiceFactory()
    kept = [ClientFactory() for _ in range(3)]
    for client in kept:
        client.tags.add(vip)
        AppointmentFactory(
            client=client, service=sauna, status=AppointmentStatus.COMPLETED
        )
    kept[1].tags.add(banned)
    ClientFactory().tags.add(vip)  # never used the service
    chosen = segment(lifecycle_stages=[])
    chosen.tags_included.set([vip])
    chosen.tags_excluded.set([banned])
    chosen.services_used.set([sauna])
    everyone = segment()

    assert segment_client_ids(chosen) == [kept[0].pk, kept[2].pk]
    assert segment_client_ids(chosen) == list(
        segment_clients(chosen).values_list("pk", flat=True)
    )
    assert segment_client_ids(everyone) == sorted(
        Client.objects.values_list("pk", flat=True)
    )


def test_lifecycle_stages_and_rfm_range():
    vip = client_with(lifecycle_stage=Client.Stage.VIP, rfm_score=80)
    at_risk = client_with(lifecycle_stage=Client.Stage.AT_RISK, rfm_score=40)
    client_with(lifecycle_stage=Client.Stage.VIP, rfm_score=95)
    client_with(lifecycle_stage=Client.Stage.NEW, rfm_score=60)

    chosen = segment(
        lifecycle_stages=[Client.Stage.VIP, Client.Stage.AT_RISK],
        min_rfm=40,
        max_rfm=80,
    )

    assert matched(chosen) == {vip.pk, at_risk.pk}


def test_active_package_yes_and_no():
    holder = PackagePurchaseFactory().client
    lapsed = PackagePurchaseFactory(status=PackagePurchase.Status.EXPIRED).client
    none = ClientFactory()

    assert matched(segment(has_active_package=True)) == {holder.pk}
    assert matched(segment(has_active_package=False)) == {lapsed.pk, none.pk}


def test_services_used_count_completed_appointments_only():
    sauna, cryo = ServiceFactory(), ServiceFactory()
    used = AppointmentFactory(service=sauna, status=AppointmentStatus.COMPLETED).client
    AppointmentFactory(service=sauna, status=AppointmentStatus.SCHEDULED)
    AppointmentFactory(service=cryo, status=AppointmentStatus.COMPLETED)
    chosen = segment()
    chosen.services_used.set([sauna])

    assert matched(chosen) == {used.pk}


def test_birthday_month():
    march = ClientFactory(birth_date=dt.date(1990, 3, 14))
    ClientFactory(birth_date=dt.date(1990, 4, 14))
    ClientFactory(birth_date=None)

    assert matched(segment(birthday_month=3)) == {march.pk}


def test_an_unsaved_segment_is_previewed_from_the_criteria_as_typed():
    tag = TagFactory()
    tagged = client_with(total_visits=3)
    tagged.tags.add(tag)
    client_with(total_visits=3)
    client_with(total_visits=1).tags.add(tag)
    typed = Segment(name="not saved", min_visits=2)

    assert segment_count(typed, tags_included=[tag]) == 1
    assert [c.pk for c in segment_sample(typed, tags_included=[tag])] == [tagged.pk]
    assert segment_count(typed, tags_included=[]) == 2
    assert not Segment.objects.exists()


def test_the_sample_is_at_most_n_clients_most_recent_visitors_first():
    clients = [client_with(last_visit_at=at_local(days, 10)) for days in range(12)]

    sample = segment_sample(segment(), n=10)

    assert [c.pk for c in sample] == [c.pk for c in clients[:10]]


def test_a_segment_with_every_criterion_is_one_query():
    tag = TagFactory()
    chosen = segment(
        min_visits=1,
        min_spent=Decimal("1"),
        min_days_since_last_visit=1,
        max_days_since_last_visit=99,
        lifecycle_stages=[Client.Stage.ACTIVE],
        min_rfm=1,
        max_rfm=99,
        has_active_package=True,
        birthday_month=5,
    )
    chosen.tags_included.set([tag])
    chosen.tags_excluded.set([TagFactory()])
    chosen.services_used.set([ServiceFactory()])

    with CaptureQueriesContext(connection) as queries:
        list(segment_clients(chosen))
        segment_count(chosen)

    assert len(queries) == 2
