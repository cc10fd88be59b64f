"""The admin in a real browser: headless Debian Chromium driven by Playwright.

Runs where /usr/bin/chromium exists (``.ci/run`` installs it); Playwright's own browser
downloads are never used, since CI reaches package registries only.
"""

import datetime as dt
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from appointments.tests.factories import AppointmentFactory
from clients.tests.factories import ClientFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Screenshots for a human look; /tmp unless CRM_SCREENSHOT_DIR says otherwise.
SCREENSHOTS = Path(os.environ.get("CRM_SCREENSHOT_DIR", tempfile.gettempdir()))

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)",
    ),
]


@pytest.fixture
def browser_locale():
    return "en-US"


@pytest.fixture
def browser_page(monkeypatch, browser_locale):
    # Playwright's sync API runs an event loop in this thread, which makes Django
    # refuse ORM calls here; ours are plain synchronous ones. Only for this test: the
    # variable must not leak into other tests or the subprocesses they start.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 900}, locale=browser_locale
            )
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


# Rows are made in fixtures requested before ``browser_page``: inside Playwright's event
# loop Django keeps connections in a task-local store that the test database's teardown
# never closes, and the database could not be dropped.


@pytest.fixture
def booked_today():
    """A client with an appointment at noon today."""
    client = ClientFactory(first_name="Maria", last_name="Lopez")
    noon = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(12)))
    AppointmentFactory(client=client, start_at=noon)
    return client


def test_staff_log_in_and_open_a_client_without_external_requests(
    live_server, admin_user, booked_today, browser_page
):
    # Given a client with an appointment today
    client = booked_today
    page = browser_page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    # When staff log in through the form
    log_in(page, live_server, admin_user)

    # Then the dashboard shows the day, with the client booked today
    dashboard = page.locator("body")
    sync_api.expect(dashboard).to_contain_text("Today's appointments")
    sync_api.expect(page.locator("#todays-appointments")).to_contain_text("Lopez")
    page.screenshot(path=str(SCREENSHOTS / "crm-browser-dashboard.png"), full_page=True)

    # And the client list leads to the client's page
    page.goto(f"{live_server.url}/admin/clients/client/")
    sync_api.expect(page.locator("#result_list")).to_contain_text("Lopez")
    page.locator("#result_list a", has_text="Lopez").first.click()
    page.wait_for_url(f"{live_server.url}/admin/clients/client/{client.pk}/change/")
    sync_api.expect(page.locator("input[name=last_name]")).to_have_value("Lopez")
    page.screenshot(path=str(SCREENSHOTS / "crm-browser-client.png"), full_page=True)

    # And every request went to our own server: no CDN, fonts or trackers
    live_host = urlsplit(live_server.url).netloc
    network = [url for url in requested if urlsplit(url).scheme in ("http", "https")]
    assert network
    assert [url for url in network if urlsplit(url).netloc != live_host] == []


def log_in(page, live_server, user) -> None:
    """Through the login form; the password is pytest-django's admin_user's."""
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "password")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.fixture
def spanish_client():
    return ClientFactory(first_name="Lucía", last_name="Fernández")


@pytest.mark.parametrize("browser_locale", ["es-ES"])
def test_a_spanish_browser_gets_the_admin_in_spanish(
    live_server, admin_user, spanish_client, browser_page
):
    log_in(browser_page, live_server, admin_user)

    sync_api.expect(browser_page.locator("body")).to_contain_text("Citas de hoy")
    browser_page.goto(f"{live_server.url}/admin/clients/client/")
    sync_api.expect(browser_page.locator("body")).to_contain_text("Clientes")
    sync_api.expect(browser_page.locator("#result_list")).to_contain_text("Fernández")
    browser_page.screenshot(
        path=str(SCREENSHOTS / "crm-browser-clients-es.png"), full_page=True
    )
