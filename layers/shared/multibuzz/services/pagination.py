"""Keyset pagination for list endpoints: ``{"data": [...], "next_cursor": "…"}`` with an opaque cursor.

Rows are listed newest first by their time-ordered id; the cursor encodes the last id of a page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from multibuzz.errors import InvalidInputError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInputError("cursor is not valid", field="cursor") from exc
    if not raw.startswith("v1:") or len(raw) > 64:
        raise InvalidInputError("cursor is not valid", field="cursor")
    return raw[3:]


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


@dataclass(frozen=True)
class PageResult(Generic[T]):
    items: list[T]
    next_cursor: str | None

    @classmethod
    def from_rows(cls, rows: Sequence[Any], limit: int) -> PageResult[Any]:
        """``rows`` were fetched with ``limit + 1``: the extra row says whether there is a next page."""
        items = list(rows[:limit])
        more = len(rows) > limit
        return PageResult(items, encode_cursor(items[-1].id) if more and items else None)


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None
