"""``make test`` (scripts/test-both.sh): both halves always run, and either failing fails the whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test-both.sh"

FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for `python -m pytest …`: records which half ran, exits as told for that half.
if [ -n "${MULTIBUZZ_TEST_DATABASE_URL:-}" ]; then half=mysql; code=$MYSQL_EXIT; else half=sqlite; code=$SQLITE_EXIT; fi
echo "$half $*" >> "$RAN"
exit "$code"
"""


@pytest.mark.parametrize(
    ("sqlite", "mysql", "passes", "summary"),
    [
        (0, 0, True, "SQLite passed; MariaDB passed"),
        (1, 0, False, "SQLite FAILED (some tests failed); MariaDB passed"),
        (0, 1, False, "SQLite passed; MariaDB FAILED (some tests failed)"),
        (5, 0, False, "SQLite FAILED (no tests collected); MariaDB passed"),
        (0, 5, False, "SQLite passed; MariaDB FAILED (no tests collected)"),
    ],
)
def test_both_halves_run_and_either_failure_fails(
    tmp_path: Path, sqlite: int, mysql: int, passes: bool, summary: str
) -> None:
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    ran = tmp_path / "ran"
    env = {"PATH": "/usr/bin:/bin", "RAN": str(ran), "SQLITE_EXIT": str(sqlite), "MYSQL_EXIT": str(mysql)}
    result = subprocess.run(
        [str(SCRIPT), str(fake), "mysql+pymysql://root@127.0.0.1:3306/x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert [line.split()[0] for line in ran.read_text().splitlines()] == ["sqlite", "mysql"], "both halves ran"
    assert (result.returncode == 0) is passes
    assert f"== make test: {summary}" in result.stdout
