import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from crm_project.setup import ensure_roles
from crm_project.tests.admin_testing import (
    ChangelistCase,
    add_url,
    change_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
    form_data,
    messages_of,
    result_pks,
)
from leads.models import (
    ImportLog,
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    Source,
    WebhookDelivery,
    WebhookSecret,
)

from .factories import (
    ImportLogFactory,
    LeadFactory,
    LeadFollowUpFactory,
    WebhookDeliveryFactory,
    WebhookSecretFactory,
)

pytestmark = pytest.mark.django_db

User = get_user_model()


def a_salesperson(i: int):
    user, _ = User.objects.get_or_create(
        username=f"seller-{i % 3}", defaults={"is_staff": True}
    )
    return user


def make_lead(i: int) -> Lead:
    return LeadFactory(
        full_name=f"Firstname{i} Lastname{i}",
        assigned_to=a_salesperson(i),
        source=[Source.INSTAGRAM, Source.CSV, Source.WALK_IN][i % 3],
    )


def make_follow_up(i: int) -> LeadFollowUp:
    return LeadFollowUpFactory(lead=make_lead(i), overdue=bool(i % 2))


def make_history(i: int) -> LeadStatusHistory:
    return make_lead(i).history.get()


def make_import(i: int) -> ImportLog:
    return ImportLogFactory(original_name=f"importfile{i}.csv")


def make_secret(i: int) -> WebhookSecret:
    return WebhookSecretFactory(hook=WebhookSecret.Hook.values[i])


def make_delivery(i: int) -> WebhookDelivery:
    return WebhookDeliveryFactory(external_id=f"ext-{i}", lead=make_lead(i))


# model, row maker, search term, which row the term finds, query budget (on
# PostgreSQL; SQLite runs one fewer on the big lists)
ADMINS = {
    "lead": ChangelistCase(Lead, make_lead, "Lastname3", 3, 8),
    "follow_up": ChangelistCase(LeadFollowUp, make_follow_up, "Lastname3", 3, 8),
    "history": ChangelistCase(
        LeadStatusHistory, make_history, "Lastname3", 3, 7, has_add_page=False
    ),
    "import": ChangelistCase(
        ImportLog, make_import, "importfile3", 3, 7, has_add_page=False
    ),
    "delivery": ChangelistCase(
        WebhookDelivery, make_delivery, "ext-3", 3, 7, has_add_page=False
    ),
    # Five hooks at most: no 50-row list.
    "secret": ChangelistCase(WebhookSecret, make_secret, "telegram", 1, 7),
}
BIG_LISTS = [name for name in ADMINS if name != "secret"]


@pytest.mark.parametrize("name", ADMINS)
def test_changelist_search_filters_add_and_change_pages(admin_client, name):
    check_changelist_pages(admin_client, ADMINS[name])


@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize("name", BIG_LISTS)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client, django_assert_max_num_queries, name, rows
):
    check_query_budget(admin_client, django_assert_max_num_queries, ADMINS[name], rows)


def test_secret_list_stays_within_its_budget(
    admin_client, django_assert_max_num_queries
):
    check_query_budget(admin_client, django_assert_max_num_queries, ADMINS["secret"], 5)


# --- Search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "term", ["(646) 555-0142", "+1 646 555 0142", "6465550142", "+16465550142"]
)
def test_phone_search_in_any_format_finds_the_lead(admin_client, term):
    wanted = LeadFactory(phone="+16465550142")
    LeadFactory(phone="+16465550143")

    response = admin_client.get(changelist_url(Lead), {"q": term})

    assert result_pks(response) == {wanted.pk}


def test_email_search_ignores_case(admin_client):
    wanted = LeadFactory(email="maria@example.org")
    LeadFactory(email="other@example.org")

    response = admin_client.get(changelist_url(Lead), {"q": "Maria@Example.ORG"})

    assert result_pks(response) == {wanted.pk}


def test_overdue_filter_finds_late_first_contacts_and_follow_ups(admin_client):
    past = timezone.now() - dt.timedelta(hours=5)
    late_first_contact = LeadFactory(first_contact_due_at=past)
    late_follow_up = LeadFollowUpFactory(overdue=True).lead
    on_time = LeadFactory()
    LeadFactory(status=LeadStatus.CONTACTED, first_contact_due_at=past)

    response = admin_client.get(changelist_url(Lead), {"overdue": "yes"})

    assert result_pks(response) == {late_first_contact.pk, late_follow_up.pk}
    assert on_time.pk not in result_pks(response)
    assert "crm-overdue" in response.content.decode()


def test_badges_escape_nothing_unsafe_and_show_status_and_source(admin_client):
    LeadFactory(full_name="<script>x</script>", source=Source.WHATSAPP)

    page = admin_client.get(changelist_url(Lead)).content.decode()

    assert "<script>x</script>" not in page
    assert "crm-lead-new" in page
    assert "crm-source-whatsapp" in page


# --- Salesperson scoping --------------------------------------------------------------


@pytest.fixture
def salesperson():
    ensure_roles()
    user = User.objects.create_user("sam-seller", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="salesperson"))
    return user


@pytest.fixture
def manager():
    ensure_roles()
    user = User.objects.create_user("mia-manager", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="manager"))
    return user


def test_a_salesperson_sees_only_their_own_leads(client, salesperson):
    mine = LeadFactory(assigned_to=salesperson)
    theirs = LeadFactory(assigned_to=a_salesperson(1))
    client.force_login(salesperson)

    response = client.get(changelist_url(Lead))

    assert result_pks(response) == {mine.pk}
    assert client.get(change_url(mine)).status_code == 200
    assert client.get(change_url(theirs)).status_code in (302, 404)


def test_a_salesperson_sees_only_their_own_follow_ups(client, salesperson):
    mine = LeadFollowUpFactory(lead=LeadFactory(assigned_to=salesperson))
    theirs = LeadFollowUpFactory(lead=LeadFactory(assigned_to=a_salesperson(1)))
    client.force_login(salesperson)

    response = client.get(changelist_url(LeadFollowUp))

    assert result_pks(response) == {mine.pk}
    assert client.get(change_url(theirs)).status_code in (302, 404)


def test_a_salesperson_picks_staff_for_a_lead_through_autocomplete(client, salesperson):
    a_salesperson(1)
    User.objects.create(username="seller-customer-login", is_staff=False)
    client.force_login(salesperson)

    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "leads",
            "model_name": "lead",
            "field_name": "assigned_to",
            "term": "seller",
        },
    )

    assert response.status_code == 200
    names = {row["text"] for row in response.json()["results"]}
    assert "seller-1" in names
    assert "seller-customer-login" not in names


def test_a_manager_sees_every_lead(client, manager):
    leads = {make_lead(i).pk for i in range(3)}
    client.force_login(manager)

    response = client.get(changelist_url(Lead))

    assert result_pks(response) == leads


def test_a_lead_a_salesperson_adds_is_theirs(client, salesperson):
    client.force_login(salesperson)
    page = client.get(add_url(Lead))

    response = client.post(
        add_url(Lead),
        form_data(
            page,
            full_name="New Person",
            phone="(646) 555-0199",
            email="",
            source=Source.WALK_IN,
        ),
    )

    assert response.status_code == 302
    lead = Lead.objects.get(phone="+16465550199")
    assert lead.assigned_to == salesperson
    assert lead.first_contact_due_at is not None


# --- Adding and editing ---------------------------------------------------------------


def test_adding_a_lead_goes_through_intake(admin_client):
    page = admin_client.get(add_url(Lead))

    response = admin_client.post(
        add_url(Lead),
        form_data(
            page,
            full_name="Ana Díaz",
            phone="646 555 0177",
            email="Ana@Example.org",
            source=Source.WALK_IN,
        ),
    )

    assert response.status_code == 302
    lead = Lead.objects.get()
    assert (lead.phone, lead.email) == ("+16465550177", "ana@example.org")
    assert lead.first_contact_due_at is not None
    assert lead.history.count() == 1


def test_adding_a_duplicate_links_the_existing_lead_and_creates_nothing(admin_client):
    existing = LeadFactory(phone="+16465550111", full_name="Existing Person")
    page = admin_client.get(add_url(Lead))

    response = admin_client.post(
        add_url(Lead),
        form_data(
            page,
            full_name="Someone",
            phone="+1 (646) 555-0111",
            email="",
            source=Source.WALK_IN,
        ),
    )

    assert response.status_code == 200
    assert Lead.objects.count() == 1
    body = response.content.decode()
    assert "already exists" in body
    assert change_url(existing) in body


def test_a_lead_needs_a_phone_or_an_email(admin_client):
    page = admin_client.get(add_url(Lead))

    response = admin_client.post(
        add_url(Lead),
        form_data(page, full_name="Nobody", phone="", email="", source=Source.OTHER),
    )

    assert response.status_code == 200
    assert not Lead.objects.exists()


def test_changing_the_status_writes_history_through_the_service(admin_client):
    lead = LeadFactory()
    page = admin_client.get(change_url(lead))

    response = admin_client.post(
        change_url(lead),
        form_data(page, status=LeadStatus.CONTACTED, status_note="Called her"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONTACTED
    change = lead.history.order_by("-id").first()
    assert (change.to_status, change.note) == (LeadStatus.CONTACTED, "Called her")


def test_marking_lost_without_a_reason_is_a_form_error(admin_client):
    lead = LeadFactory()
    page = admin_client.get(change_url(lead))

    response = admin_client.post(
        change_url(lead), form_data(page, status=LeadStatus.LOST, lost_reason="")
    )

    assert response.status_code == 200
    assert "lost_reason" in response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_reassigning_from_the_form_moves_pending_follow_ups(admin_client):
    lead = LeadFactory(assigned_to=a_salesperson(0))
    follow_up = LeadFollowUpFactory(lead=lead)
    page = admin_client.get(change_url(lead))

    response = admin_client.post(
        change_url(lead), form_data(page, assigned_to=str(a_salesperson(1).pk))
    )

    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.assigned_to == a_salesperson(1)


def test_a_follow_up_added_inline_is_the_salespersons(admin_client, admin_user):
    lead = LeadFactory(assigned_to=a_salesperson(0))
    page = admin_client.get(change_url(lead))
    data = form_data(page)
    prefix = "follow_ups"
    data[f"{prefix}-TOTAL_FORMS"] = "1"
    data[f"{prefix}-0-due_at_0"] = "2031-01-02"
    data[f"{prefix}-0-due_at_1"] = "10:00:00"
    data[f"{prefix}-0-note"] = "Send prices"
    data[f"{prefix}-0-status"] = LeadFollowUp.Status.PENDING

    response = admin_client.post(change_url(lead), data)

    assert response.status_code == 302
    follow_up = lead.follow_ups.get(note="Send prices")
    assert follow_up.assigned_to == a_salesperson(0)
    assert follow_up.created_by == admin_user


# --- Bulk actions ---------------------------------------------------------------------


def run_action(client, model, action, objs, **extra):
    return client.post(
        changelist_url(model),
        {"action": action, "_selected_action": [o.pk for o in objs], **extra},
    )


def test_assign_asks_for_the_salesperson_then_assigns(admin_client):
    ensure_roles()
    seller = a_salesperson(0)
    seller.groups.add(Group.objects.get(name="salesperson"))
    leads = [LeadFactory(), LeadFactory(), LeadFactory(assigned_to=seller)]

    page = run_action(admin_client, Lead, "assign_to_salesperson", leads)
    assert page.status_code == 200
    assert "salesperson" in page.context["form"].fields

    response = run_action(
        admin_client,
        Lead,
        "assign_to_salesperson",
        leads,
        apply="1",
        salesperson=str(seller.pk),
    )

    assert response.status_code == 302
    assert Lead.objects.filter(assigned_to=seller).count() == 3
    notes = messages_of(response)
    assert any("2 leads assigned to" in note for note in notes)
    assert any("1 skipped: already assigned to them" in note for note in notes)


def test_round_robin_shares_leads_and_skips_closed_ones(admin_client):
    ensure_roles()
    group = Group.objects.get(name="salesperson")
    for i in range(2):
        a_salesperson(i).groups.add(group)
    leads = [LeadFactory(), LeadFactory(), LeadFactory(status=LeadStatus.LOST)]

    response = run_action(admin_client, Lead, "assign_round_robin", leads)

    assigned = set(
        Lead.objects.exclude(assigned_to=None).values_list("assigned_to", flat=True)
    )
    assert assigned == {a_salesperson(0).pk, a_salesperson(1).pk}
    notes = messages_of(response)
    assert any("2 leads assigned round-robin" in note for note in notes)
    assert any("1 skipped: converted or lost" in note for note in notes)


def test_mark_contacted_reports_what_it_skipped(admin_client):
    leads = [LeadFactory(), LeadFactory(status=LeadStatus.CONTACTED)]

    response = run_action(admin_client, Lead, "mark_contacted", leads)

    assert Lead.objects.filter(status=LeadStatus.CONTACTED).count() == 2
    notes = messages_of(response)
    assert any("1 lead marked as contacted" in note for note in notes)
    assert any("1 skipped: already contacted" in note for note in notes)


def test_mark_lost_asks_the_reason(admin_client):
    leads = [LeadFactory(), LeadFactory(status=LeadStatus.CONVERTED)]

    page = run_action(admin_client, Lead, "mark_lost", leads)
    assert page.status_code == 200
    assert Lead.objects.filter(status=LeadStatus.LOST).count() == 0

    response = run_action(
        admin_client, Lead, "mark_lost", leads, apply="1", lost_reason="Too far"
    )

    lost = Lead.objects.get(status=LeadStatus.LOST)
    assert lost.lost_reason == "Too far"
    notes = messages_of(response)
    assert any("1 lead marked as lost" in note for note in notes)
    assert any("1 skipped: already converted" in note for note in notes)


def test_convert_makes_clients_once(admin_client):
    lead = LeadFactory(full_name="Carla Ruiz")

    first = run_action(admin_client, Lead, "convert_to_client", [lead])
    second = run_action(admin_client, Lead, "convert_to_client", [lead])

    lead.refresh_from_db()
    assert lead.client is not None
    assert lead.status == LeadStatus.CONVERTED
    assert any("1 lead converted" in note for note in messages_of(first))
    assert any("already converted" in note for note in messages_of(second))


def test_mark_done_completes_follow_ups(admin_client):
    pending = LeadFollowUpFactory(overdue=True)
    done = LeadFollowUpFactory(done=True)

    response = run_action(admin_client, LeadFollowUp, "mark_done", [pending, done])

    pending.refresh_from_db()
    assert pending.status == LeadFollowUp.Status.DONE
    assert pending.completed_at is not None
    notes = messages_of(response)
    assert any("1 follow-up marked as done" in note for note in notes)
    assert any("1 skipped: already done" in note for note in notes)


# --- Other admins ---------------------------------------------------------------------


def test_the_webhook_secret_is_masked_in_the_list(admin_client):
    WebhookSecretFactory(secret="supersecretvalue1234")

    page = admin_client.get(changelist_url(WebhookSecret)).content.decode()

    assert "supersecretvalue1234" not in page
    assert "1234" in page


def test_a_delivery_payload_is_pretty_printed_and_escaped(admin_client):
    delivery = WebhookDeliveryFactory(payload={"name": "<b>bold</b>", "n": 1})

    page = admin_client.get(change_url(delivery)).content.decode()

    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in page


def test_the_dashboard_lists_my_overdue_follow_ups(client, salesperson):
    mine = LeadFollowUpFactory(lead=LeadFactory(assigned_to=salesperson), overdue=True)
    LeadFollowUpFactory(lead=LeadFactory(assigned_to=a_salesperson(1)), overdue=True)
    client.force_login(salesperson)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert [f.pk for f in response.context["overdue_follow_ups"]] == [mine.pk]


def test_the_dashboard_lists_every_overdue_follow_up_for_a_manager(client, manager):
    LeadFollowUpFactory(lead=LeadFactory(assigned_to=a_salesperson(0)), overdue=True)
    LeadFollowUpFactory(lead=LeadFactory(assigned_to=a_salesperson(1)), overdue=True)
    client.force_login(manager)

    response = client.get(reverse("admin:index"))

    assert len(response.context["overdue_follow_ups"]) == 2


# --- Imports ------------------------------------------------------------------------

CSV_TEXT = (
    "Name,Phone,Email\n"
    "Ana Díaz,(646) 555-0101,ana@example.org\n"
    "Bea Soto,646-555-0102,bea@example.org\n"
    "Ana again,+1 646 555 0101,\n"
    "No contact,,\n"
)


@pytest.fixture
def importing():
    return pytest.importorskip("leads.importing")


def upload(client, content: bytes, name: str = "leads.csv", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("admin:leads_importlog_upload"),
        {
            "file": SimpleUploadedFile(name, content, content_type="text/csv"),
            "source": Source.CSV,
            "assign": ImportLog.Assign.NONE,
            **fields,
        },
    )


def test_the_lead_list_has_an_import_button(admin_client):
    page = admin_client.get(changelist_url(Lead)).content.decode()

    assert reverse("admin:leads_importlog_upload") in page


def test_the_upload_page_renders(admin_client):
    assert admin_client.get(reverse("admin:leads_importlog_upload")).status_code == 200


def test_an_import_runs_from_upload_to_revert(
    admin_client, importing, settings, django_capture_on_commit_callbacks
):
    LeadFactory(phone="+16465550999")

    uploaded = upload(admin_client, CSV_TEXT.encode())
    assert uploaded.status_code == 302, uploaded.context["form"].errors
    preview = admin_client.get(uploaded["Location"])
    assert preview.status_code == 200
    expected = preview.context["preview"].expected
    assert expected["rows"] == 4
    assert expected["created"] == 2
    assert expected["duplicate_in_file"] == 1
    assert expected["bad"] == 1
    assert list((settings.MEDIA_ROOT / "imports" / "tmp").glob("*"))

    form = preview.context["form"]
    mapping = {name: field.initial or "" for name, field in form.fields.items()}
    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post(uploaded["Location"], {"import": "1", **mapping})

    assert started.status_code == 302
    log = ImportLog.objects.get()
    assert started["Location"] == change_url(log)
    assert log.status == ImportLog.Status.DONE
    assert (log.created_count, log.duplicate_in_file_count, log.bad_row_count) == (
        2,
        1,
        1,
    )
    assert Lead.objects.filter(import_log=log).count() == 2
    assert list((settings.MEDIA_ROOT / "imports" / "tmp").glob("*")) == []

    page = admin_client.get(change_url(log))
    assert page.status_code == 200
    progress = admin_client.get(
        reverse("admin:leads_importlog_progress", args=[log.pk])
    )
    assert progress.json()["percent"] == 100
    assert progress.json()["finished"] is True

    report = admin_client.get(reverse("admin:leads_importlog_report", args=[log.pk]))
    assert report.status_code == 200
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert len(lines) == 5  # the header and one line per row

    revert_url = reverse("admin:leads_importlog_revert", args=[log.pk])
    assert admin_client.get(revert_url).status_code == 200
    reverted = admin_client.post(revert_url)
    assert reverted.status_code == 302
    assert not Lead.objects.filter(phone="+16465550102").exists()
    assert any("2 leads removed" in note for note in messages_of(reverted))


def test_the_mapping_can_be_overridden_and_previewed_again(admin_client, importing):
    uploaded = upload(admin_client, CSV_TEXT.encode())
    url = uploaded["Location"]
    preview = admin_client.get(url)
    form = preview.context["form"]
    data = {name: "" for name in form.fields}  # ignore every column

    unusable = admin_client.post(url, {"preview": "1", **data})

    assert unusable.status_code == 200
    assert unusable.context["preview"] is None
    assert "No phone or email column" in unusable.content.decode()

    data["col_1"] = "phone"  # only the phone column
    again = admin_client.post(url, {"preview": "1", **data})

    assert again.status_code == 200
    assert again.context["preview"].mapping["Phone"] == "phone"
    assert not again.context["preview"].mapping.get("Email")
    assert again.context["preview"].expected["created"] == 2


def test_a_file_without_known_columns_can_be_mapped_by_hand(admin_client, importing):
    text = "Column A,Column B\nAna,(646) 555-0101\nBea,(646) 555-0102\n"
    uploaded = upload(admin_client, text.encode())
    assert uploaded.status_code == 302

    page = admin_client.get(uploaded["Location"])
    assert page.status_code == 200
    assert page.context["preview"] is None

    again = admin_client.post(
        uploaded["Location"], {"preview": "1", "col_0": "full_name", "col_1": "phone"}
    )

    assert again.context["preview"].expected["created"] == 2


def test_a_broken_file_is_a_form_error(admin_client, importing):
    response = upload(admin_client, b"\x00\x01\x02 not a sheet", name="leads.xlsx")

    assert response.status_code == 200
    assert response.context["form"].errors
    assert not ImportLog.objects.exists()


def test_a_file_of_the_wrong_kind_is_a_form_error(admin_client):
    response = upload(admin_client, b"hello", name="leads.pdf")

    assert response.status_code == 200
    assert "file" in response.context["form"].errors


def test_a_running_import_page_polls_its_progress(admin_client):
    log = ImportLogFactory(status=ImportLog.Status.RUNNING, total_rows=10)
    log.processed_rows = 4
    log.save(update_fields=["processed_rows"])

    page = admin_client.get(change_url(log)).content.decode()
    progress = admin_client.get(
        reverse("admin:leads_importlog_progress", args=[log.pk])
    ).json()

    assert 'data-running="1"' in page
    assert "crm/import_progress.js" in page
    assert (progress["percent"], progress["finished"]) == (40, False)
    assert reverse("admin:leads_importlog_revert", args=[log.pk]) not in page


def test_a_link_that_is_not_a_google_sheet_is_a_form_error(admin_client, importing):
    response = admin_client.post(
        reverse("admin:leads_importlog_upload"),
        {
            "sheet_url": "https://example.org/leads.csv",
            "source": Source.GOOGLE_SHEETS,
            "assign": ImportLog.Assign.NONE,
        },
    )

    assert response.status_code == 200
    assert "sheet_url" in response.context["form"].errors


def test_the_same_file_twice_warns_before_importing(
    admin_client, importing, django_capture_on_commit_callbacks
):
    first = upload(admin_client, CSV_TEXT.encode())
    form = admin_client.get(first["Location"]).context["form"]
    mapping = {name: field.initial or "" for name, field in form.fields.items()}
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(first["Location"], {"import": "1", **mapping})

    second = upload(admin_client, CSV_TEXT.encode())
    preview = admin_client.get(second["Location"])

    assert preview.context["preview"].already_imported == ImportLog.objects.get()
    assert 'id="already-imported"' in preview.content.decode()


def test_a_salesperson_may_import(client, salesperson, importing):
    client.force_login(salesperson)

    assert client.get(changelist_url(ImportLog)).status_code == 200
    uploaded = upload(client, CSV_TEXT.encode())

    assert uploaded.status_code == 302
    assert client.get(uploaded["Location"]).status_code == 200
