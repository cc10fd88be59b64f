"""The import benchmark runs end to end on PostgreSQL and cleans up after itself."""

import io
import re

import pytest
from django.core.management import call_command

from leads.models import ImportLog, Lead

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_bench_import_prints_every_figure_and_removes_its_rows():
    out = io.StringIO()

    call_command("bench_import", rows=3000, existing=2000, xlsx_rows=300, stdout=out)

    text = out.getvalue()
    assert "Seeded 2,000 existing leads" in text
    assert re.search(r"empty copy of the table \(\d+ indexes besides the key", text)
    assert "CSV import of 3,000 rows" in text
    assert "Memory: peak RSS" in text
    assert "XLSX import of 300 rows" in text
    for target in ("rows/s >= 10,000", "rows/s >= COPY/4", "memory < 300 MB"):
        assert target in text
    assert not Lead.objects.exists()
    assert not ImportLog.objects.exists()
