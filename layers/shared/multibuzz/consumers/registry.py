"""Message kind → handler. Handlers must be idempotent: a message may arrive more than once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope

MessageHandler = Callable[[Envelope, Session, Container], None]

_HANDLERS: dict[str, MessageHandler] = {}


class UnknownMessageKindError(ValueError):
    pass


def handles(kind: str) -> Callable[[MessageHandler], MessageHandler]:
    def register(func: MessageHandler) -> MessageHandler:
        _HANDLERS[kind] = func
        return func

    return register


def handler_for(kind: str) -> MessageHandler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise UnknownMessageKindError(f"no handler for message kind {kind!r}") from None


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)
