"""multibuzz.db.mysql_rows writes the statements pymysql's executemany writes, byte for byte.

Both run against a pymysql connection that is never opened (its escaping needs only the charset and the
server status flags) with a cursor that records what it would send. tests/integration/test_mysql_rows_live.py
compares the literals with a live MariaDB connection's ``escape``; tests/functional/test_shopify.py's fills
put the rows in.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pymysql
import pytest
from multibuzz.db.mysql_rows import escape_text, insert_many, literal_for
from pymysql.constants import SERVER_STATUS
from pymysql.converters import escape_string


class _Recording(pymysql.cursors.Cursor):
    def __init__(self, connection: Any) -> None:
        super().__init__(connection)
        self.sent: list[bytes] = []

    def execute(self, query: Any, args: Any = None) -> int:
        assert args is None
        self.sent.append(bytes(query))
        return 1


def _connection(status: int = 0) -> Any:
    connection = pymysql.connections.Connection(defer_connect=True, charset="utf8mb4")
    connection.server_status = status
    return connection


def _texts() -> list[str]:
    rng = random.Random(11)
    alphabet = "ab'\"\\\x00\n\r\x1a\t%s{}[]:,é€😀\u2028 "
    texts = ["", "plain", "it's", 'say "hi"', "back\\slash", "\x00\x1a\r\n", "%s %(x)s %%", "😀€é"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(400)]
    texts.append('{"id":"gid://shopify/Order/1","note":"a \\"quoted\\" \\\\ line\\n","x":[1,2]}' * 30)
    return texts


VALUES: list[Any] = [
    None,
    0,
    -7,
    2**70,
    True,
    False,
    Decimal("0"),
    Decimal("12.50"),
    Decimal("-0.01"),
    Decimal("1E+3"),
    Decimal("1.000000000000000000001"),
    datetime(2026, 12, 1, 22, 5, 3),
    datetime(2026, 12, 1, 22, 5, 3, 120),
    date(2026, 2, 28),
    1.5,  # not a fast type: through the connection's own escape
    b"\x00\xffbytes",
    datetime(2026, 12, 1, 22, 5, 3, tzinfo=UTC),
]


def test_escape_text_is_pymysqls_escape_string() -> None:
    for text in _texts():
        assert escape_text(text) == escape_string(text), repr(text)


def test_literals_are_the_connections_escape() -> None:
    connection = _connection()
    literal = literal_for(connection)
    assert literal is not None
    for value in [*VALUES, *_texts()]:
        assert literal(value) == connection.escape(value), repr(value)


def test_non_finite_decimal_is_refused_as_pymysql_refuses_it() -> None:
    literal = literal_for(_connection())
    assert literal is not None
    for value in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(pymysql.err.ProgrammingError):
            _connection().escape(value)
        with pytest.raises(pymysql.err.ProgrammingError):
            literal(value)


@pytest.mark.parametrize("limit", [1024000, 4000, 300, 1])
def test_insert_many_sends_executemanys_statements(limit: int) -> None:
    rng = random.Random(limit)
    texts = _texts()
    rows = [
        (f"id-{i}", rng.choice(texts), rng.choice(VALUES), Decimal(rng.randint(0, 10**6)) / 100, rng.choice(texts))
        for i in range(300)
    ]
    prefix = "INSERT INTO fact_orders (a, b, c, d, e) VALUES "
    theirs, ours = _Recording(_connection()), _Recording(_connection())
    theirs.max_stmt_length = ours.max_stmt_length = limit
    theirs.executemany(prefix + "(%s, %s, %s, %s, %s)", rows)
    insert_many(ours, prefix, rows)
    assert ours.sent == theirs.sent
    assert len(ours.sent) > 1 or limit == 1024000


def test_no_backslash_escapes_mode_goes_through_executemany() -> None:
    connection = _connection(SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)
    assert literal_for(connection) is None
    rows = [("it's", "back\\slash"), ("x", None)]
    theirs, ours = _Recording(connection), _Recording(connection)
    theirs.executemany("INSERT INTO t (a, b) VALUES (%s, %s)", rows)
    insert_many(ours, "INSERT INTO t (a, b) VALUES ", rows)
    assert ours.sent == theirs.sent and b"it''s" in ours.sent[0]
