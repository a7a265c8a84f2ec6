"""Message kind → handler. Handlers must be idempotent: a message may arrive more than once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope

MessageHandler = Callable[[Envelope, Session, Container], None]
BatchHandler = Callable[[list[Envelope], Session, Container], None]

_HANDLERS: dict[str, MessageHandler] = {}
_BATCH_HANDLERS: dict[str, BatchHandler] = {}


class UnknownMessageKindError(ValueError):
    pass


def handles(kind: str) -> Callable[[MessageHandler], MessageHandler]:
    def register(func: MessageHandler) -> MessageHandler:
        _HANDLERS[kind] = func
        return func

    return register


def handles_batch(kind: str) -> Callable[[BatchHandler], BatchHandler]:
    """A set-based handler for many messages of one kind and account, applied in one transaction.

    It must have the same effect as applying the per-message handler to each, in order."""

    def register(func: BatchHandler) -> BatchHandler:
        _BATCH_HANDLERS[kind] = func
        return func

    return register


def batch_handler_for(kind: str) -> BatchHandler | None:
    return _BATCH_HANDLERS.get(kind)


def handler_for(kind: str) -> MessageHandler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise UnknownMessageKindError(f"no handler for message kind {kind!r}") from None


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)
