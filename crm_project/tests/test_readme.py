"""README.md documents every setting a deployer can change."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "crm_project" / "settings.py").read_text()
    # env("X"), env.str("X", ...), env.db("X"), possibly across lines.
    return set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', source))


def test_settings_reads_the_variables_we_expect_to_find():
    names = variables_read_by_settings()

    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_BACKEND"} <= names


def test_readme_configuration_table_lists_every_variable_settings_reads():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, re.MULTILINE))

    missing = variables_read_by_settings() - documented

    assert not missing, f"add to README.md's Configuration table: {sorted(missing)}"
