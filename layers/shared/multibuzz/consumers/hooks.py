"""Cross-feature hooks inside the consumer, so features stay in their own modules.

Tracking calls ``identity_linked`` after identify links a visitor to an identity;
the conversions feature registers a callback that re-attributes that identity's
conversions. Callbacks run inside the same database transaction as the message.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container

IdentityLinked = Callable[[Session, Container, str, str], None]  # (session, container, account_id, identity_id)

_identity_linked: list[IdentityLinked] = []


def on_identity_linked(callback: IdentityLinked) -> IdentityLinked:
    if callback not in _identity_linked:
        _identity_linked.append(callback)
    return callback


def identity_linked(session: Session, container: Container, account_id: str, identity_id: str) -> None:
    for callback in _identity_linked:
        callback(session, container, account_id, identity_id)
