"""multibuzz.db.mysql_rows against a live MariaDB connection: its literals are the connection's ``escape``
and the server reads them back as they were (MariaDB runs only; see tests/unit/test_mysql_rows.py)."""

from __future__ import annotations

import os

import pymysql
import pytest
from multibuzz.db.mysql_rows import literal_for
from sqlalchemy.engine import make_url

from tests.unit.test_mysql_rows import VALUES, _texts


def test_literals_match_a_live_mariadb_connection() -> None:
    url = os.environ.get("MULTIBUZZ_TEST_DATABASE_URL", "")
    if not url.startswith("mysql"):
        pytest.skip("MariaDB only")
    parsed = make_url(url)
    connection = pymysql.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 3306,
        user=parsed.username or "root",
        password=parsed.password or "",
        charset="utf8mb4",
    )
    try:
        literal = literal_for(connection)
        assert literal is not None
        for value in [*VALUES, *_texts()]:
            assert literal(value) == connection.escape(value), repr(value)
        with connection.cursor() as cursor:  # and the server reads the text back as it was
            for text in _texts()[:50]:
                cursor.execute("SELECT " + literal(text))
                assert cursor.fetchone() == (text,)
    finally:
        connection.close()
