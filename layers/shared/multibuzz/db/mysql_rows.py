"""A multi-row INSERT for pymysql, the same statements as ``cursor.executemany`` sends, written faster.

``executemany`` of an ``INSERT … VALUES (%s, …)`` already sends multi-row statements (up to the cursor's
``max_stmt_length`` each); what it costs is turning every value into a literal: one ``escape`` per value,
through a dict of encoders, and for text a ``str.translate`` with a 128-entry table, slow per character on
the long JSON documents of the order rows (a third of the Shopify fill's time in the profile). Here the
literal of a value is picked once per type, and text is escaped with a C regular-expression scan (most
values need nothing) and, only when needed, the same replacements as pymysql's table. The statements are
byte for byte those of ``executemany`` (tests/unit/test_mysql_rows.py compares both on the same rows,
and on MariaDB against a real connection's ``escape``); a connection in ``NO_BACKSLASH_ESCAPES`` mode, or a
value of a type not listed here, goes through pymysql's own ``escape``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pymysql.constants import SERVER_STATUS
from pymysql.converters import escape_date, escape_datetime
from pymysql.err import ProgrammingError

_SPECIAL = re.compile("[\x00\n\r\x1a\"'\\\\]")  # what pymysql's escape table changes


def escape_text(value: str) -> str:
    """``pymysql.converters.escape_string(value)`` (backslash escapes): the same text."""
    if _SPECIAL.search(value) is None:
        return value
    return (
        value.replace("\\", "\\\\")  # first: the replacements below add backslashes
        .replace("\x00", "\\0")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\x1a", "\\Z")
        .replace('"', '\\"')
        .replace("'", "\\'")
    )


def _text(value: str) -> str:
    return "'" + escape_text(value) + "'"


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ProgrammingError(f"{str(value).lower()} can not be used with MySQL")
    return format(value, "f")


_LITERALS: dict[type, Callable[[Any], str]] = {
    str: _text,
    type(None): lambda _: "NULL",
    int: str,
    bool: lambda value: str(int(value)),
    Decimal: _decimal,
    datetime: escape_datetime,
    date: escape_date,
}


def literal_for(connection: Any) -> Callable[[Any], str] | None:
    """The literal of a value as ``connection.escape`` writes it, or None when this module must not be used
    (the connection escapes quotes only: ``NO_BACKSLASH_ESCAPES``)."""
    if connection.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        return None
    escape = connection.escape
    get = _LITERALS.get

    def literal(value: Any) -> str:
        fast = get(type(value))
        return fast(value) if fast is not None else escape(value)

    return literal


def insert_many(cursor: Any, prefix: str, rows: Iterable[Sequence[Any]]) -> int:
    """``cursor.executemany(prefix + "(%s, …)", rows)`` for a plain ``INSERT INTO t (a, b) VALUES `` prefix:
    the same statements, split at the same ``max_stmt_length``. Returns the rows the server reports."""
    connection = cursor.connection
    literal = literal_for(connection)
    rows = list(rows)
    if not rows:
        return 0
    if literal is None:
        cursor.executemany(prefix + "(" + ", ".join(["%s"] * len(rows[0])) + ")", rows)
        return int(cursor.rowcount)
    encoding = connection.encoding
    head = prefix.encode(encoding)
    limit = cursor.max_stmt_length
    sql = bytearray(head)
    first = True
    total = 0
    for row in rows:
        value = ("(" + ", ".join([literal(item) for item in row]) + ")").encode(encoding)
        if first:
            first = False
        elif len(sql) + len(value) + 1 > limit:  # as executemany: the postfix is empty here
            total += cursor.execute(sql)
            sql = bytearray(head)
        else:
            sql += b","
        sql += value
    total += cursor.execute(sql)
    cursor.rowcount = total
    return total
