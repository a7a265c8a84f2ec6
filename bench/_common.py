"""Shared by the benchmarks: where figures are written, and a fresh MariaDB database to measure on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def write_results(name: str, figures: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, default=str))
    return path


def reset_database(url: str) -> None:
    """Drop and recreate the benchmark's own MariaDB database (never the test database)."""
    from multibuzz.db.engine import make_engine
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    server = make_engine(parsed.set(database="").render_as_string(hide_password=False))
    with server.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
        conn.execute(text(f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4"))
    server.dispose()
