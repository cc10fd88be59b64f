import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run_ensure_admin(*args: str) -> str:
    out = io.StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = re.search(r"password: (\S+)", output)
    assert match, output
    return match.group(1)


def test_creates_a_superuser_whose_printed_password_logs_in(client):
    output = run_ensure_admin()

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.is_active
    assert "username: admin" in output
    assert client.login(username="admin", password=printed_password(output))


def test_leaves_an_existing_user_and_says_how_to_reset(client):
    first = printed_password(run_ensure_admin())

    output = run_ensure_admin()

    assert "exists" in output
    assert "make admin-password" in output
    assert "password:" not in output
    assert client.login(username="admin", password=first)


def test_reset_password_prints_a_new_working_password(client):
    first = printed_password(run_ensure_admin())
    get_user_model().objects.filter(username="admin").update(is_active=False)

    second = printed_password(run_ensure_admin("--reset-password"))

    assert second != first
    assert not client.login(username="admin", password=first)
    assert client.login(username="admin", password=second)


def test_custom_username():
    output = run_ensure_admin("--username", "owner", "--email", "owner@example.com")

    assert get_user_model().objects.filter(username="owner", is_superuser=True).exists()
    assert "username: owner" in output
