"""Cross-feature hooks inside the consumer, so features stay in their own modules.

Tracking calls ``identity_linked`` after identify links a visitor to an identity;
the conversions feature registers a callback that re-attributes that identity's
conversions. Callbacks run inside the same database transaction as the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container

IdentityLinked = Callable[[Session, Container, str, str], None]  # (session, container, account_id, identity_id)
# (session, container, account_id, [{"id": conv_id, "event_id", "type", "revenue", "currency"}])
EventConversions = Callable[[Session, Container, str, list[dict[str, Any]]], None]

_identity_linked: list[IdentityLinked] = []
_event_conversions: list[EventConversions] = []


def on_identity_linked(callback: IdentityLinked) -> IdentityLinked:
    if callback not in _identity_linked:
        _identity_linked.append(callback)
    return callback


def identity_linked(session: Session, container: Container, account_id: str, identity_id: str) -> None:
    for callback in _identity_linked:
        callback(session, container, account_id, identity_id)


def on_event_conversions(callback: EventConversions) -> EventConversions:
    if callback not in _event_conversions:
        _event_conversions.append(callback)
    return callback


def event_conversions(session: Session, container: Container, account_id: str, specs: list[dict[str, Any]]) -> None:
    """Events that are also conversions (the unified form's purchase) were stored in this transaction."""
    for callback in _event_conversions:
        callback(session, container, account_id, specs)
