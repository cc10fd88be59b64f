import pytest
from django.contrib.auth.models import Group

from clients.models import Client
from clients.tests.factories import ClientFactory, TagFactory, UserFactory
from communications.models import (
    Campaign,
    Channel,
    Message,
    MessageKind,
    MessageTemplate,
    Reason,
    Segment,
)
from crm_project.tests.admin_testing import (
    ChangelistCase,
    add_url,
    change_url,
    changelist_url,
    check_changelist_pages,
    check_query_budget,
    form_data,
    messages_of,
)

from .factories import ContactPreferencesFactory, MessageFactory

pytestmark = pytest.mark.django_db


def campaign_template(name="Offer", channel=Channel.EMAIL) -> MessageTemplate:
    return MessageTemplate.objects.get_or_create(
        kind=MessageKind.CAMPAIGN,
        name=name,
        channel=channel,
        language="en",
        defaults={"subject": "Offer", "body_text": "Hi {{ recipient_name }}"},
    )[0]


def make_segment(i: int) -> Segment:
    return Segment.objects.create(name=f"Segment number {i}", min_visits=i)


def make_campaign(i: int) -> Campaign:
    campaign = Campaign.objects.create(
        name=f"Campaign number {i}",
        template=campaign_template(),
        segment=make_segment(i),
        channel=Channel.EMAIL,
        status=list(Campaign.Status)[i % 5],
    )
    # Messages in every outcome, so the annotated columns have something to count.
    for n, status in enumerate([Message.Status.SENT, Message.Status.SKIPPED]):
        MessageFactory(
            campaign=campaign,
            kind=MessageKind.CAMPAIGN,
            status=status,
            reason=Reason.OPTED_OUT if status == Message.Status.SKIPPED else "",
            idempotency_key=f"campaign-test:{i}:{n}",
        )
    return campaign


ADMINS = {
    "segment": ChangelistCase(Segment, make_segment, "number 3", 3, 7),
    "campaign": ChangelistCase(Campaign, make_campaign, "number 3", 3, 7),
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


def test_the_campaign_list_shows_each_campaigns_figures(admin_client):
    make_campaign(0)

    response = admin_client.get(changelist_url(Campaign))

    (row,) = response.context["cl"].result_list
    assert (row.sent_count, row.skipped_count, row.failed_count) == (1, 1, 0)


def test_preview_shows_the_count_and_a_sample_for_the_criteria_as_typed_without_saving(
    admin_client,
):
    tag = TagFactory()
    regulars = [ClientFactory(last_name=f"Regular{i}") for i in range(2)]
    for client in regulars:
        client.tags.add(tag)
        Client.objects.filter(pk=client.pk).update(total_visits=5)
    ClientFactory(last_name="Newcomer").tags.add(tag)
    page = admin_client.get(add_url(Segment))

    response = admin_client.post(
        add_url(Segment),
        form_data(
            page,
            name="Regulars",
            min_visits="3",
            tags_included=[str(tag.pk)],
            lifecycle_stages=None,  # no box ticked: nothing is posted
            _preview="1",
        ),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {}
    assert response.context["adminform"].form.preview["count"] == 2
    content = response.content.decode()
    assert "<strong>2</strong> clients match these criteria now." in content
    assert "Regular0" in content and "Newcomer" not in content
    assert not Segment.objects.exists()


def test_the_change_page_shows_the_live_count_and_saving_keeps_the_criteria(
    admin_client,
):
    segment = Segment.objects.create(name="Everyone")
    ClientFactory()
    page = admin_client.get(change_url(segment))
    assert page.context["adminform"].form.preview["count"] == 1

    response = admin_client.post(
        change_url(segment),
        form_data(page, lifecycle_stages=[Client.Stage.VIP], min_rfm="10"),
    )

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.lifecycle_stages == [Client.Stage.VIP]
    assert segment.min_rfm == 10


def test_a_campaign_template_must_be_of_the_campaigns_channel(admin_client):
    sms = campaign_template(channel=Channel.SMS)
    segment = make_segment(1)
    page = admin_client.get(add_url(Campaign))

    response = admin_client.post(
        add_url(Campaign),
        form_data(
            page,
            name="Mismatch",
            segment=str(segment.pk),
            template=str(sms.pk),
            channel=Channel.EMAIL,
        ),
    )

    assert response.status_code == 200
    assert "template" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_only_campaign_templates_are_offered(admin_client):
    campaign_template()

    page = admin_client.get(add_url(Campaign))

    offered = page.context["adminform"].form.fields["template"].queryset
    assert {t.kind for t in offered} == {MessageKind.CAMPAIGN}


def test_a_draft_given_a_time_is_scheduled(admin_client):
    segment = make_segment(1)
    page = admin_client.get(add_url(Campaign))

    admin_client.post(
        add_url(Campaign),
        form_data(
            page,
            name="Later",
            segment=str(segment.pk),
            template=str(campaign_template().pk),
            channel=Channel.EMAIL,
            scheduled_at_0="2030-01-01",
            scheduled_at_1="10:00:00",
        ),
    )

    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert campaign.scheduled_at is not None


def test_send_now_and_cancel_actions_report_what_they_did(
    admin_client, django_capture_on_commit_callbacks
):
    tag = TagFactory()
    segment = Segment.objects.create(name="Tagged")
    segment.tags_included.set([tag])
    for consent in (True, True, False):
        client = ClientFactory()
        client.tags.add(tag)
        if consent:
            ContactPreferencesFactory(client=client)
    draft = Campaign.objects.create(
        name="Now",
        template=campaign_template(),
        segment=segment,
        channel=Channel.EMAIL,
        throttle_per_minute=1,  # one now, one a minute later
    )

    with django_capture_on_commit_callbacks(execute=True):
        sent = admin_client.post(
            changelist_url(Campaign),
            {"action": "send_now", "_selected_action": [draft.pk]},
            follow=True,
        )
    again = admin_client.post(
        changelist_url(Campaign),
        {"action": "send_now", "_selected_action": [draft.pk]},
        follow=True,
    )
    cancelled = admin_client.post(
        changelist_url(Campaign),
        {"action": "cancel", "_selected_action": [draft.pk]},
        follow=True,
    )

    assert messages_of(sent)[0].startswith("1 campaign started: 3 clients targeted")
    assert "1 skipped: already sending, sent or cancelled." in messages_of(again)
    assert "1 campaign cancelled; 1 queued messages will not be sent." in messages_of(
        cancelled
    )
    draft.refresh_from_db()
    assert draft.status == Campaign.Status.CANCELLED
    page = admin_client.get(change_url(draft))
    content = page.content.decode()
    assert "campaign-stats" in content
    assert "Campaign cancelled" in content and "No marketing consent" in content


def test_a_marketer_manages_segments_and_campaigns():
    marketer = UserFactory(is_staff=True)
    marketer.groups.add(Group.objects.get(name="marketer"))

    for model in ("segment", "campaign"):
        for action in ("view", "add", "change", "delete"):
            assert marketer.has_perm(f"communications.{action}_{model}")
