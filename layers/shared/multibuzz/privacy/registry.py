"""The tables that hold personal data, one entry each: how to find a subject's rows, and what erasing
them means (delete the row, or overwrite its personal columns and keep the rest).

Erasure (:mod:`.erasure`) and access requests (:mod:`.access`) both walk this list, so a table added
here is erased and reported by both. Adding a table (e.g. Shopify's raw and fact orders at merge) is
one :func:`register` call. An anonymising entry must leave its rows no longer matching the subject
(the job loops until nothing matches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table, or_

from multibuzz.db.models import Conversion, Event, Identity, Visitor, VisitSession
from multibuzz.db.models.influencer import Click, ClickDedup
from multibuzz.privacy.subjects import Subject

Match = Callable[[Subject], ColumnElement[bool] | None]
Anonymise = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class TableEntry:
    table: Table
    match: Match  # None when the subject can have no rows here
    action: Literal["delete", "anonymise"]
    anonymise: Anonymise | None = None  # row -> new values (action "anonymise")
    final: bool = False  # the rows that tie the subject together: erased last, in the completing transaction
    purpose: str = ""

    @property
    def name(self) -> str:
        return self.table.name


_ENTRIES: list[TableEntry] = []


def register(entry: TableEntry) -> TableEntry:
    _ENTRIES[:] = [e for e in _ENTRIES if e.name != entry.name]
    _ENTRIES.append(entry)
    return entry


def entries() -> list[TableEntry]:
    """In erasure order: every non-final entry (registration order), then the final ones."""
    return [e for e in _ENTRIES if not e.final] + [e for e in _ENTRIES if e.final]


def _table(model: Any) -> Table:
    return model.__table__


def _any(*conditions: ColumnElement[bool] | None) -> ColumnElement[bool] | None:
    present = [c for c in conditions if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else or_(*present)


def _by_people(table: Table, subject: Subject) -> ColumnElement[bool] | None:
    c = table.c
    found = _any(
        c.visitor_id.in_(subject.visitor_ids) if subject.visitor_ids else None,
        c.identity_id.in_(subject.identity_ids) if subject.identity_ids else None,
    )
    return None if found is None else (c.account_id == subject.account_id) & found


# Conversion properties that describe the sale, not the person: kept so re-attribution and the
# influencer waterfall still work. Everything else (and ``_group``, which names the visitor) goes.
KEPT_CONVERSION_PROPERTIES = frozenset({"coupon_code", "ref_code", "value", "currency", "order_id"})


def _anonymise_conversion(row: Mapping[str, Any]) -> dict[str, Any]:
    properties = row.get("properties") or {}
    kept = {k: v for k, v in properties.items() if k in KEPT_CONVERSION_PROPERTIES}
    return {"properties": {**kept, "_erased": True}, "visitor_id": None, "identity_id": None, "event_id": None}


def _anonymise_click(row: Mapping[str, Any]) -> dict[str, Any]:
    # The dedup hash becomes a hash of nothing personal (the click id): the click still counts, unique or not.
    from hashlib import sha256

    return {
        "ip": None,
        "user_agent": None,
        "referrer": None,
        "city": None,
        "visitor_hash": sha256(f"erased:{row['id']}".encode()).hexdigest(),
    }


def _clicks(subject: Subject) -> ColumnElement[bool] | None:
    if not subject.click_hashes:
        return None
    c = _table(Click).c
    return (c.account_id == subject.account_id) & c.visitor_hash.in_(subject.click_hashes)


def _click_dedup(subject: Subject) -> ColumnElement[bool] | None:
    if not subject.click_hashes:
        return None
    c = _table(ClickDedup).c
    return (c.account_id == subject.account_id) & c.visitor_hash.in_(subject.click_hashes)


def _sessions(subject: Subject) -> ColumnElement[bool] | None:
    if not subject.visitor_ids:
        return None
    c = _table(VisitSession).c
    return (c.account_id == subject.account_id) & c.visitor_id.in_(subject.visitor_ids)


def _visitors(subject: Subject) -> ColumnElement[bool] | None:
    if not subject.visitor_ids:
        return None
    c = _table(Visitor).c
    return (c.account_id == subject.account_id) & c.id.in_(subject.visitor_ids)


def _identities(subject: Subject) -> ColumnElement[bool] | None:
    if not subject.identity_ids:
        return None
    c = _table(Identity).c
    return (c.account_id == subject.account_id) & c.id.in_(subject.identity_ids)


register(
    TableEntry(
        _table(Event), lambda s: _by_people(_table(Event), s), "delete", purpose="what the visitor did (raw events)"
    )
)
register(
    TableEntry(
        _table(Conversion),
        lambda s: _by_people(_table(Conversion), s),
        "anonymise",
        _anonymise_conversion,
        purpose="revenue and credits stay (reports unchanged); links to the person and personal properties go",
    )
)
register(TableEntry(_table(VisitSession), _sessions, "delete", purpose="visits: landing URL, referrer, IP, device"))
register(
    TableEntry(
        _table(Click), _clicks, "anonymise", _anonymise_click, purpose="link clicks: IP, user agent, referrer go"
    )
)
register(TableEntry(_table(ClickDedup), _click_dedup, "delete", purpose="unique-click hashes of (IP, UA)"))
register(TableEntry(_table(Visitor), _visitors, "delete", final=True, purpose="devices (cookie ids)"))
register(TableEntry(_table(Identity), _identities, "delete", final=True, purpose="known users: user id, traits"))


# The Shopify order tables register themselves (their module imports this one; imported last, so the
# registry above is complete when it runs).
import multibuzz.commerce.shopify.privacy  # noqa: E402, F401
