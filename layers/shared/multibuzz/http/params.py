"""Query parameters shared by several routes, with the constraints the code enforces spelled out for the spec."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

# Every list endpoint's cursor is the base64url text of its previous page's ``next_cursor`` (padding optional).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+={0,2}$"
Cursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        pattern=CURSOR_PATTERN,
        description="Opaque: the `next_cursor` of the previous page (base64url).",
    ),
]
