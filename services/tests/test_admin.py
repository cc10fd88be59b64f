from decimal import Decimal

import pytest

from crm_project.admin_testing import (
    add_url,
    change_url,
    changelist_url,
    filter_urls,
    result_pks,
)
from services.models import Contraindication, Service, ServiceCategory

from .factories import ContraindicationFactory, ServiceCategoryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def make_category(i: int) -> ServiceCategory:
    category = ServiceCategoryFactory(name=f"Category {i}")
    ServiceFactory.create_batch(2, category=category)
    return category


def make_contraindication(i: int) -> Contraindication:
    condition = ContraindicationFactory(name=f"Condition {i}")
    ServiceFactory().contraindications.add(condition)
    return condition


def make_service(i: int) -> Service:
    # One category name without digits: the search looks at category names too.
    body = ServiceCategoryFactory(name="Body")
    service = ServiceFactory(name=f"Service {i}", category=body)
    service.contraindications.add(
        ContraindicationFactory(name=f"Condition {i}"),
        ContraindicationFactory(name=f"Other {i}"),
    )
    return service


# model, row maker, search term, which row the term finds, query budget
ADMINS = {
    "category": (ServiceCategory, make_category, "Category 3", 3, 7),
    "contraindication": (Contraindication, make_contraindication, "Condition 3", 3, 7),
    "service": (Service, make_service, "Service 3", 3, 10),
}


@pytest.mark.parametrize("name", ADMINS)
def test_changelist_search_filters_add_and_change_pages(admin_client, name):
    model, make, term, index, _budget = ADMINS[name]
    rows = [make(i) for i in range(5)]

    response = admin_client.get(changelist_url(model))
    assert response.status_code == 200
    assert result_pks(response) == {row.pk for row in rows}

    found = admin_client.get(changelist_url(model), {"q": term})
    assert found.status_code == 200
    assert result_pks(found) == {rows[index].pk}

    for url in filter_urls(response):
        assert admin_client.get(url).status_code == 200, url
    assert admin_client.get(add_url(model)).status_code == 200
    assert admin_client.get(change_url(rows[0])).status_code == 200


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", ADMINS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, rows
):
    model, make, _term, _index, budget = ADMINS[name]
    for i in range(rows):
        make(i)

    with django_assert_max_num_queries(budget):
        response = admin_client.get(changelist_url(model))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == min(rows, 50)


def test_service_list_shows_price_duration_category_and_contraindications(
    admin_client,
):
    service = make_service(1)

    response = admin_client.get(changelist_url(Service))

    html = response.content.decode()
    assert service.category.name in html
    assert "Condition 1" in html and "Other 1" in html
    assert "50.00" in html


def test_adding_a_service(admin_client):
    category = ServiceCategoryFactory()
    condition = ContraindicationFactory()

    response = admin_client.post(
        add_url(Service),
        {
            "name": "Float tank",
            "category": category.pk,
            "price": "80.00",
            "duration_minutes": "60",
            "is_active": "on",
            "contraindications": [condition.pk],
        },
    )

    assert response.status_code == 302
    service = Service.objects.get(name="Float tank")
    assert service.price == Decimal("80.00")
    assert list(service.contraindications.all()) == [condition]
