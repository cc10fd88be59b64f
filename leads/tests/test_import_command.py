"""The import_leads command."""

import pytest
from django.core.management import CommandError, call_command

from leads.models import ImportLog, Lead

from . import formats
from .factories import SalespersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def leads_file(tmp_path):
    return formats.semicolon_es(
        tmp_path / "leads.csv",
        [
            ["Ana", "6465550201", "ana@example.com", ""],
            ["Ana again", "646 555 0201", "", ""],
            ["Nobody", "", "", ""],
            ["Beto", "", "beto@example.com", "instagram"],
        ],
    )


def test_import_prints_the_counts(leads_file, capsys):
    call_command("import_leads", str(leads_file), "--source", "csv")
    out = capsys.readouterr().out
    assert "4 rows, 2 created, 1 duplicates within the file" in out
    assert "0 duplicates of existing leads, 1 bad rows" in out
    assert Lead.objects.count() == 2
    assert ImportLog.objects.get().status == ImportLog.Status.DONE


def test_dry_run_writes_nothing(leads_file, capsys):
    call_command("import_leads", str(leads_file), "--source", "csv", "--dry-run")
    out = capsys.readouterr().out
    assert out.startswith("Dry run, nothing written: 4 rows, 2 created")
    assert Lead.objects.count() == 0
    assert ImportLog.objects.count() == 0


def test_reimport_creates_nothing(leads_file, capsys):
    call_command("import_leads", str(leads_file), "--source", "csv")
    call_command("import_leads", str(leads_file), "--source", "csv")
    out = capsys.readouterr().out.splitlines()
    assert "0 created" in [line for line in out if line.startswith("Import")][-1]
    assert Lead.objects.count() == 2


def test_round_robin(leads_file):
    first, second = SalespersonFactory(), SalespersonFactory()
    call_command(
        "import_leads", str(leads_file), "--source", "csv", "--assign", "round-robin"
    )
    owners = set(Lead.objects.values_list("assigned_to", flat=True))
    assert owners == {first.pk, second.pk}


def test_unreadable_file_is_a_command_error(tmp_path):
    path = formats.write_csv(tmp_path / "x.csv", [["Name"], ["Ana"]])
    with pytest.raises(CommandError, match="No phone or email column"):
        call_command("import_leads", str(path), "--source", "csv")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_leads", str(tmp_path / "missing.csv"), "--source", "csv")
