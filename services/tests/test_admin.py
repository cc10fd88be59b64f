from decimal import Decimal

import pytest

from crm_project.tests.admin_testing import (
    ChangelistCase,
    add_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
)
from services.models import Contraindication, Service, ServiceCategory

from .factories import ContraindicationFactory, ServiceCategoryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def make_category(i: int) -> ServiceCategory:
    category = ServiceCategoryFactory(name=f"Category{i}")
    ServiceFactory.create_batch(2, category=category)
    return category


def make_contraindication(i: int) -> Contraindication:
    condition = ContraindicationFactory(name=f"Condition{i}")
    ServiceFactory().contraindications.add(condition)
    return condition


def make_service(i: int) -> Service:
    # One category name without digits: the search looks at category names too.
    body = ServiceCategoryFactory(name="Body")
    service = ServiceFactory(name=f"Service{i}", category=body)
    service.contraindications.add(
        ContraindicationFactory(name=f"Condition {i}"),
        ContraindicationFactory(name=f"Other {i}"),
    )
    return service


# model, row maker, search term, which row the term finds, query budget
ADMINS = {
    "category": ChangelistCase(ServiceCategory, make_category, "Category3", 3, 7),
    "contraindication": ChangelistCase(
        Contraindication, make_contraindication, "Condition3", 3, 7
    ),
    "service": ChangelistCase(Service, make_service, "Service3", 3, 10),
}


@pytest.mark.parametrize("name", ADMINS)
def test_changelist_search_filters_add_and_change_pages(admin_client, name):
    check_changelist_pages(admin_client, ADMINS[name])


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", ADMINS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, rows
):
    check_query_budget(admin_client, django_assert_max_num_queries, ADMINS[name], rows)


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
