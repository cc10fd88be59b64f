"""Lead services: intake with de-duplication, status history, assignment, conversion,
and the roles and schedule that come with the app."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from clients.models import Client
from clients.tests.factories import ClientFactory, UserFactory
from leads import services
from leads.models import (
    Lead,
    LeadFollowUp,
    LeadStatus,
    LeadStatusHistory,
    RoundRobinCursor,
    Source,
)
from leads.services import intake as lead_intake
from leads.tests.factories import (
    LeadFactory,
    LeadFollowUpFactory,
    ManagerFactory,
    SalespersonFactory,
)

pytestmark = pytest.mark.django_db

S = LeadStatus
F = LeadFollowUp.Status
NOW = dt.datetime(2026, 3, 11, 14, 0, tzinfo=dt.UTC)
RECEIVED = dt.datetime(2026, 3, 11, 9, 30, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def studio_settings(settings):
    settings.PHONENUMBER_DEFAULT_REGION = "US"
    settings.LEADS_FIRST_CONTACT_HOURS = 2


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff():
    return UserFactory()


def history(lead) -> list[tuple[str, str]]:
    return list(
        LeadStatusHistory.objects.filter(lead=lead)
        .order_by("changed_at", "id")
        .values_list("from_status", "to_status")
    )


def intake(**data) -> services.Intake:
    source = data.pop("source", Source.INSTAGRAM)
    by = data.pop("by", None)
    auto_assign = data.pop("auto_assign", False)
    return services.create_or_merge_lead(
        data, source=source, by=by, auto_assign=auto_assign
    )


# --- Intake -----------------------------------------------------------------------


def test_intake_creates_one_lead_with_its_history_and_first_contact_deadline(staff):
    result = intake(
        phone="(415) 555-0123",
        email="Ana@Example.com",
        full_name="Ana Pérez",
        campaign_name="Spring",
        utm_source="ig",
        external_id="meta-1",
        received_at=RECEIVED,
        by=staff,
    )

    assert result.created is True
    assert result.problem == ""
    lead = Lead.objects.get()
    assert result.lead == lead
    assert (lead.phone, lead.email) == ("+14155550123", "ana@example.com")
    assert (lead.full_name, lead.campaign_name, lead.utm_source) == (
        "Ana Pérez",
        "Spring",
        "ig",
    )
    assert (lead.source, lead.external_id) == (Source.INSTAGRAM, "meta-1")
    assert lead.status == S.NEW
    assert lead.received_at == RECEIVED
    assert lead.first_contact_due_at == RECEIVED + dt.timedelta(hours=2)
    assert lead.assigned_to is None
    assert lead.invalid_contact == ""
    row = LeadStatusHistory.objects.get(lead=lead)
    assert (row.from_status, row.to_status) == ("", S.NEW)
    assert row.changed_by == staff
    assert str(row) == "∅ → new"
    # The deadline is the lead's; a follow-up is opened only when it is missed.
    assert not LeadFollowUp.objects.exists()


def test_the_first_contact_window_comes_from_settings(settings):
    settings.LEADS_FIRST_CONTACT_HOURS = 5

    lead = intake(phone="4155550123", received_at=RECEIVED).lead

    assert lead.first_contact_due_at == RECEIVED + dt.timedelta(hours=5)


def test_intake_without_a_time_is_received_now():
    lead = intake(email="ana@example.com").lead

    assert lead.received_at == NOW
    assert lead.first_contact_due_at == NOW + dt.timedelta(hours=2)


def test_intake_keeps_the_valid_identifier_and_notes_the_invalid_one():
    lead = intake(phone="4155550123", email="ana(at)example.com").lead

    assert (lead.phone, lead.email) == ("+14155550123", "")
    assert lead.invalid_contact == "email: ana(at)example.com"


def test_intake_makes_formula_looking_text_inert():
    lead = intake(
        phone="4155550123",
        full_name='=HYPERLINK("http://evil.example")',
        campaign_name="Line one\nline two",
        notes="@SUM(A1)",
    ).lead

    assert lead.full_name == '\'=HYPERLINK("http://evil.example")'
    assert lead.campaign_name == "Line one line two"
    assert lead.notes == "'@SUM(A1)"


@pytest.mark.parametrize(
    "contact",
    [
        {},
        {"phone": "", "email": ""},
        {"phone": "12", "email": "not-an-email"},
        {"full_name": "Only A Name"},
    ],
)
def test_intake_without_a_valid_phone_or_email_writes_nothing(contact):
    result = intake(**contact)

    assert result.lead is None
    assert result.created is False
    assert result.problem == "no valid phone or email"
    assert not Lead.objects.exists()
    assert not LeadStatusHistory.objects.exists()
    assert not LeadFollowUp.objects.exists()


@pytest.mark.parametrize(
    "second_phone", ["+1 415 555 0123", "415.555.0123", "p:+14155550123", 4155550123.0]
)
def test_the_same_phone_in_another_format_merges(second_phone):
    first = intake(phone="(415) 555-0123", full_name="Ana", received_at=RECEIVED).lead

    result = intake(phone=second_phone, full_name="Someone Else", utm_source="fb")

    assert result.created is False
    assert result.lead.pk == first.pk
    assert result.filled == ("utm_source",)
    assert Lead.objects.count() == 1
    lead = Lead.objects.get()
    assert lead.full_name == "Ana"  # never overwritten
    assert lead.utm_source == "fb"
    assert lead.received_at == RECEIVED
    assert history(lead) == [("", S.NEW)]
    assert lead.first_contact_due_at == first.first_contact_due_at


def test_the_same_email_in_another_case_merges():
    first = intake(email="ana@example.com").lead

    result = intake(email="  ANA@Example.COM ", full_name="Ana Pérez")

    assert (result.created, result.lead.pk) == (False, first.pk)
    assert result.filled == ("full_name",)
    assert Lead.objects.get().full_name == "Ana Pérez"
    assert LeadStatusHistory.objects.count() == 1


def test_the_same_external_id_of_the_same_source_merges():
    first = intake(
        phone="4155550123", external_id="meta-77", source=Source.FACEBOOK
    ).lead

    result = intake(
        phone="4155550199",
        email="other@example.com",
        external_id="meta-77",
        source=Source.FACEBOOK,
        form_name="Trial form",
    )

    assert (result.created, result.lead.pk) == (False, first.pk)
    lead = Lead.objects.get()
    # The matched lead keeps its phone; the new email fills its blank one.
    assert lead.phone == "+14155550123"
    assert lead.email == "other@example.com"
    assert lead.form_name == "Trial form"
    assert set(result.filled) == {"form_name", "email"}


def test_the_same_external_id_from_another_source_is_another_lead():
    intake(phone="4155550123", external_id="42", source=Source.FACEBOOK)

    result = intake(phone="4155550199", external_id="42", source=Source.TELEGRAM)

    assert result.created is True
    assert Lead.objects.count() == 2


def test_a_merge_fills_only_blank_fields_and_never_overwrites():
    lead = LeadFactory(
        phone="+14155550123",
        full_name="Ana From Staff",
        campaign_name="",
        utm_medium="staff-set",
        notes="called once",
    )

    result = intake(
        phone="4155550123",
        full_name="Ana From Ad",
        campaign_name="Spring",
        utm_medium="cpc",
        notes="from the ad",
        external_id="x-1",
    )

    lead.refresh_from_db()
    assert result.filled == ("campaign_name",)
    assert (lead.full_name, lead.campaign_name, lead.utm_medium, lead.notes) == (
        "Ana From Staff",
        "Spring",
        "staff-set",
        "called once",
    )
    # Identity fields are not fillable: the staff's lead keeps its (blank) external id.
    assert lead.external_id == ""


def test_a_merge_with_nothing_new_writes_nothing():
    lead = LeadFactory(phone="+14155550123", full_name="Ana")
    updated_at = Lead.objects.get(pk=lead.pk).updated_at

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        result = intake(phone="4155550123", full_name="Ana Again")

    assert (result.created, result.filled) == (False, ())
    assert Lead.objects.get(pk=lead.pk).updated_at == updated_at


def test_a_merge_adds_the_missing_email_to_the_matched_lead():
    lead = LeadFactory(phone="+14155550123", email="")

    result = intake(phone="4155550123", email="Ana@Example.com")

    lead.refresh_from_db()
    assert result.filled == ("email",)
    assert lead.email == "ana@example.com"


def test_a_merge_adds_the_missing_phone_to_the_matched_lead():
    lead = LeadFactory(phone="", email="ana@example.com")

    intake(phone="415 555 0123", email="ana@example.com")

    lead.refresh_from_db()
    assert lead.phone == "+14155550123"


def test_a_merge_does_not_take_an_email_another_lead_holds():
    by_phone = LeadFactory(phone="+14155550123", email="")
    by_email = LeadFactory(phone="", email="ana@example.com")

    result = intake(phone="4155550123", email="ANA@example.com")

    assert (result.created, result.lead.pk) == (False, by_phone.pk)
    assert result.filled == ()
    by_phone.refresh_from_db()
    by_email.refresh_from_db()
    assert by_phone.email == ""
    assert by_email.email == "ana@example.com"
    assert Lead.objects.count() == 2


def test_a_merge_writes_no_status_history_if_the_status_moved_meanwhile(
    monkeypatch, staff
):
    # A salesperson moves the lead on between the intake's match and its merge: the
    # merge must neither record a change nor put the old status back.
    lead = LeadFactory(phone="+14155550123", full_name="")
    find_match = lead_intake._find_match

    def match_then_contact(*args):
        found = find_match(*args)
        services.change_lead_status(Lead.objects.get(pk=lead.pk), S.CONTACTED, by=staff)
        return found

    monkeypatch.setattr(lead_intake, "_find_match", match_then_contact)

    result = intake(phone="4155550123", full_name="Ana")

    assert (result.created, result.filled) == (False, ("full_name",))
    lead.refresh_from_db()
    assert (lead.status, lead.full_name) == (S.CONTACTED, "Ana")
    assert history(lead) == [("", S.NEW), (S.NEW, S.CONTACTED)]


def test_intake_with_auto_assign_gives_leads_out_in_turn():
    first, second = SalespersonFactory(), SalespersonFactory()

    leads = [intake(phone=f"41555501{i:02d}", auto_assign=True).lead for i in range(3)]

    assert [lead.assigned_to for lead in leads] == [first, second, first]
    for lead in leads:
        lead.refresh_from_db()
        assert lead.assigned_at == NOW


def test_intake_with_auto_assign_but_no_salesperson_still_has_a_deadline():
    result = intake(phone="4155550123", auto_assign=True, received_at=RECEIVED)

    lead = Lead.objects.get(pk=result.lead.pk)
    assert lead.assigned_to is None
    assert lead.first_contact_due_at == RECEIVED + dt.timedelta(hours=2)


def test_a_merged_duplicate_is_not_assigned_again():
    salesperson = SalespersonFactory()
    SalespersonFactory()
    lead = intake(phone="4155550123", auto_assign=True).lead

    intake(phone="+14155550123", auto_assign=True)

    lead.refresh_from_db()
    assert lead.assigned_to == salesperson
    assert RoundRobinCursor.objects.get().last_user_id == salesperson.pk


# --- Status history ---------------------------------------------------------------


def test_changing_the_status_writes_one_history_row(staff):
    lead = LeadFactory()

    result = services.change_lead_status(
        lead, S.CONTACTED, by=staff, note="Called, will visit"
    )

    assert result.status == S.CONTACTED
    assert lead.status == S.CONTACTED
    assert Lead.objects.get(pk=lead.pk).status == S.CONTACTED
    row = LeadStatusHistory.objects.filter(lead=lead).latest("id")
    assert (row.from_status, row.to_status) == (S.NEW, S.CONTACTED)
    assert (row.changed_by, row.note, row.changed_at) == (
        staff,
        "Called, will visit",
        NOW,
    )
    assert history(lead) == [("", S.NEW), (S.NEW, S.CONTACTED)]


def test_changing_to_the_same_status_twice_is_harmless(staff):
    lead = LeadFactory()
    services.change_lead_status(lead, S.INTERESTED, by=staff)

    again = services.change_lead_status(lead, S.INTERESTED, by=staff)

    assert again.status == S.INTERESTED
    assert history(lead) == [("", S.NEW), (S.NEW, S.INTERESTED)]


def test_a_plain_save_with_a_new_status_writes_one_history_row():
    lead = LeadFactory()

    lead.status = S.TRIAL_SCHEDULED
    lead.save()
    lead.save()  # saving again without a change records nothing

    assert history(lead) == [("", S.NEW), (S.NEW, S.TRIAL_SCHEDULED)]
    row = LeadStatusHistory.objects.filter(lead=lead).latest("id")
    assert row.changed_by is None


def test_a_plain_save_of_an_unchanged_status_writes_nothing():
    lead = LeadFactory()

    lead.full_name = "Renamed"
    lead.save()

    assert history(lead) == [("", S.NEW)]


def test_losing_a_lead_needs_a_reason_and_writes_nothing_without_one(staff):
    lead = LeadFactory()
    follow_up = LeadFollowUpFactory(lead=lead)

    with pytest.raises(ValidationError) as excinfo:
        services.change_lead_status(lead, S.LOST, by=staff)

    assert "lost_reason" in excinfo.value.message_dict
    assert Lead.objects.get(pk=lead.pk).status == S.NEW
    assert history(lead) == [("", S.NEW)]
    assert LeadFollowUp.objects.get(pk=follow_up.pk).status == F.PENDING


def test_losing_a_lead_with_a_reason_records_it(staff):
    lead = LeadFactory()

    services.change_lead_status(lead, S.LOST, by=staff, lost_reason="Too far away")

    lead.refresh_from_db()
    assert (lead.status, lead.lost_reason) == (S.LOST, "Too far away")
    assert history(lead)[-1] == (S.NEW, S.LOST)


def test_a_lead_leaving_the_open_statuses_closes_its_pending_and_overdue_follow_ups():
    lead = LeadFactory(assigned=True)
    pending = LeadFollowUpFactory(lead=lead)
    overdue = LeadFollowUpFactory(lead=lead, overdue=True)
    done_at = NOW - dt.timedelta(days=1)
    done = LeadFollowUpFactory(lead=lead, done=True, completed_at=done_at)

    services.change_lead_status(lead, S.LOST, lost_reason="Chose another studio")

    for follow_up in (pending, overdue):
        follow_up.refresh_from_db()
        assert (follow_up.status, follow_up.completed_at) == (F.DONE, NOW)
    done.refresh_from_db()
    assert done.completed_at == done_at


def test_a_plain_save_out_of_the_open_statuses_also_closes_follow_ups():
    lead = LeadFactory()
    follow_up = LeadFollowUpFactory(lead=lead, overdue=True)

    lead.status = S.CONVERTED
    lead.save()

    follow_up.refresh_from_db()
    assert follow_up.status == F.DONE


def test_moving_between_open_statuses_keeps_follow_ups_open():
    lead = LeadFactory()
    follow_up = LeadFollowUpFactory(lead=lead)

    services.change_lead_status(lead, S.CONTACTED)
    services.change_lead_status(lead, S.TRIAL_SCHEDULED)

    follow_up.refresh_from_db()
    assert follow_up.status == F.PENDING


# --- Assignment -------------------------------------------------------------------


def test_assigning_a_lead_moves_its_open_follow_ups_to_the_new_salesperson(staff):
    before, after = SalespersonFactory(), SalespersonFactory()
    lead = LeadFactory(assigned_to=before)
    pending = LeadFollowUpFactory(lead=lead)
    overdue = LeadFollowUpFactory(lead=lead, overdue=True)
    done = LeadFollowUpFactory(lead=lead, done=True)

    result = services.assign_lead(lead, after, by=staff)

    assert (result.assigned_to, result.assigned_at) == (after, NOW)
    lead.refresh_from_db()
    assert lead.assigned_to == after
    for follow_up in (pending, overdue):
        follow_up.refresh_from_db()
        assert follow_up.assigned_to == after
    done.refresh_from_db()
    assert done.assigned_to == before
    # Assignment is not a status change.
    assert history(lead) == [("", S.NEW)]


def test_a_missed_first_contact_opened_after_assignment_is_the_salespersons():
    salesperson = SalespersonFactory()
    lead = LeadFactory(received_at=RECEIVED)

    services.assign_lead(lead, salesperson)
    assert not lead.follow_ups.exists()
    services.open_missed_first_contacts(now=lead.first_contact_due_at + HOUR)

    follow_up = lead.follow_ups.get()
    assert (follow_up.assigned_to, follow_up.due_at, follow_up.first_contact) == (
        salesperson,
        RECEIVED + dt.timedelta(hours=2),
        True,
    )


def test_assigning_to_the_same_salesperson_again_changes_nothing():
    salesperson = SalespersonFactory()
    lead = LeadFactory(assigned_to=salesperson, assigned_at=RECEIVED)

    services.assign_lead(lead, salesperson)

    assert Lead.objects.get(pk=lead.pk).assigned_at == RECEIVED


def test_unassigning_a_lead_clears_its_open_follow_ups():
    lead = LeadFactory(assigned=True)
    follow_up = LeadFollowUpFactory(lead=lead)

    services.assign_lead(lead, None)

    lead.refresh_from_db()
    follow_up.refresh_from_db()
    assert (lead.assigned_to, lead.assigned_at, follow_up.assigned_to) == (
        None,
        None,
        None,
    )


def test_round_robin_rotates_over_salespeople_in_pk_order_across_calls():
    people = [SalespersonFactory() for _ in range(3)]
    leads = LeadFactory.create_batch(4)

    assert services.assign_round_robin(leads[:2]) == 2
    assert services.assign_round_robin(leads[2:]) == 2

    assigned = [Lead.objects.get(pk=lead.pk).assigned_to for lead in leads]
    assert assigned == [people[0], people[1], people[2], people[0]]
    # The caller's objects are updated too.
    assert [lead.assigned_to for lead in leads] == assigned
    assert RoundRobinCursor.objects.get(name="leads").last_user_id == people[0].pk


def test_round_robin_skips_inactive_users_and_non_salespeople():
    first = SalespersonFactory()
    SalespersonFactory(is_active=False)
    UserFactory()  # staff, not in the group
    ManagerFactory()
    last = SalespersonFactory()

    leads = LeadFactory.create_batch(3)
    services.assign_round_robin(leads)

    assert [lead.assigned_to for lead in leads] == [first, last, first]


def test_round_robin_continues_after_the_last_salesperson_was_deactivated():
    people = [SalespersonFactory() for _ in range(3)]
    services.assign_round_robin(LeadFactory.create_batch(2))  # 0, 1
    people[1].is_active = False
    people[1].save()

    lead = LeadFactory()
    services.assign_round_robin([lead])

    # The turn passes to the next in line, not back to the start.
    assert lead.assigned_to == people[2]


def test_round_robin_without_salespeople_does_nothing():
    UserFactory()
    SalespersonFactory(is_active=False)
    lead = LeadFactory()

    assert services.assign_round_robin([lead]) == 0

    lead.refresh_from_db()
    assert lead.assigned_to is None
    assert not LeadFollowUp.objects.exists()
    assert not RoundRobinCursor.objects.exists()


# --- Conversion -------------------------------------------------------------------


def test_converting_a_lead_creates_a_client_and_links_it(staff):
    lead = LeadFactory(
        full_name="Ana María Pérez",
        phone="+14155550123",
        email="ana@example.com",
        source=Source.FACEBOOK,
    )
    LeadFollowUpFactory(lead=lead)
    services.change_lead_status(lead, S.TRIAL_ATTENDED, by=staff)

    client = services.convert_lead(lead, by=staff)

    client.refresh_from_db()
    assert (client.first_name, client.last_name) == ("Ana", "María Pérez")
    assert (client.phone, client.email) == ("+14155550123", "ana@example.com")
    assert client.acquisition_source == Source.FACEBOOK
    lead.refresh_from_db()
    assert (lead.client, lead.converted_at, lead.status) == (client, NOW, S.CONVERTED)
    assert lead.source == Source.FACEBOOK
    assert history(lead) == [
        ("", S.NEW),
        (S.NEW, S.TRIAL_ATTENDED),
        (S.TRIAL_ATTENDED, S.CONVERTED),
    ]
    row = LeadStatusHistory.objects.filter(lead=lead).latest("id")
    assert (row.changed_by, row.note) == (staff, "Converted")
    assert not lead.follow_ups.exclude(status=F.DONE).exists()


def test_converting_twice_returns_the_same_client_and_writes_nothing():
    lead = LeadFactory()
    client = services.convert_lead(lead)
    converted_at = Lead.objects.get(pk=lead.pk).converted_at

    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        again = services.convert_lead(lead)

    assert again == client
    assert Client.objects.count() == 1
    assert Lead.objects.get(pk=lead.pk).converted_at == converted_at
    assert LeadStatusHistory.objects.filter(lead=lead).count() == 2


def test_converting_links_an_existing_client_with_the_same_phone():
    existing = ClientFactory(phone="+14155550123", email="someone@example.com")
    lead = LeadFactory(phone="+14155550123", email="", source=Source.TELEGRAM)

    client = services.convert_lead(lead)

    assert client == existing
    assert Client.objects.count() == 1
    assert Lead.objects.get(pk=lead.pk).client == existing
    # A client without a recorded origin gets the lead's.
    assert Client.objects.get(pk=existing.pk).acquisition_source == Source.TELEGRAM


def test_converting_links_an_existing_client_with_the_same_email_in_another_case():
    existing = ClientFactory(email="ana@example.com", acquisition_source="referral")
    lead = LeadFactory(phone="", email="Ana@Example.COM")

    client = services.convert_lead(lead)

    assert client == existing
    assert Client.objects.count() == 1
    # The client's own origin is kept.
    assert Client.objects.get(pk=existing.pk).acquisition_source == "referral"
    lead.refresh_from_db()
    assert (lead.status, lead.source) == (S.CONVERTED, Source.INSTAGRAM)


def test_converting_a_lead_without_a_name_names_the_client_from_its_contact():
    lead = LeadFactory(full_name="", email="ana.p@example.com")

    client = services.convert_lead(lead)

    assert (client.first_name, client.last_name) == ("ana.p", "")


# --- Roles and schedule -----------------------------------------------------------


def permissions(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_salespeople_work_leads_but_see_only_their_own():
    granted = permissions("salesperson")

    assert {"leads.add_lead", "leads.change_lead", "leads.view_lead"} <= granted
    assert "leads.delete_lead" not in granted
    assert "leads.view_all_leads" not in granted
    salesperson = SalespersonFactory()
    assert salesperson.has_perm("leads.change_lead")
    assert not salesperson.has_perm("leads.view_all_leads")


@pytest.mark.parametrize("role", ["manager", "owner", "marketer"])
def test_managers_owners_and_marketers_see_every_lead(role):
    assert "leads.view_all_leads" in permissions(role)


def test_the_lead_follow_up_schedule_exists_after_migrate():
    task = PeriodicTask.objects.get(name="Lead follow-ups")

    assert task.task == "leads.tasks.process_follow_ups"
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("*/15", "*")


def test_overlong_values_are_cut_to_their_columns():
    # Given a webhook or file with a 500-character name and campaign
    data = {"full_name": "N" * 500, "campaign_name": "C" * 500, "phone": "4155550177"}

    # When it comes in
    intake = services.create_or_merge_lead(data, source="landing_page")

    # Then the lead is stored, each value cut to fit
    intake.lead.refresh_from_db()
    assert intake.created
    assert intake.lead.full_name == "N" * 200
    assert intake.lead.campaign_name == "C" * 255


def test_a_converted_lead_keeps_its_status():
    lead = LeadFactory()
    services.convert_lead(lead)

    with pytest.raises(ValidationError, match="stays converted"):
        services.change_lead_status(lead, LeadStatus.NEW)

    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert lead.history.count() == 2  # created, converted


def test_a_follow_up_cannot_be_due_in_the_past():
    lead = LeadFactory()
    before = lead.follow_ups.count()

    with pytest.raises(ValidationError) as error:
        services.schedule_follow_up(
            lead, due_at=timezone.now() - dt.timedelta(days=1), note="Call back"
        )

    assert "due_at" in error.value.message_dict
    assert lead.follow_ups.count() == before
