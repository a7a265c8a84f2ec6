"""One request id from the edge to the database: the API Gateway request id (or the local gateway's).

The handler wrapper sets it from ``event["requestContext"]["requestId"]`` for HTTP invocations and from
each SQS record's ``correlation_id`` message attribute in the consumer; everything in between reads it
from here: the log filter (every log line), the producers (message attributes), the rows they store.
A context variable, so concurrent requests of the local gateway (tasks, worker threads) never mix ids.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any

ATTRIBUTE = "correlation_id"  # the SQS message attribute (String) and the log key
MAX_LENGTH = 64  # API Gateway ids are 16-40 characters; the local gateway's about 30

_current: ContextVar[str | None] = ContextVar("multibuzz_correlation_id", default=None)


def current() -> str | None:
    return _current.get()


def set_current(value: str | None) -> Token[str | None]:
    return _current.set(value[:MAX_LENGTH] if value else None)


def reset(token: Token[str | None]) -> None:
    _current.reset(token)


def from_http_event(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext")
    if type(context) is dict:  # exact type: an ABC isinstance check per request costs more than the rest
        request_id = context.get("requestId")
        if type(request_id) is str and request_id:
            return request_id[:MAX_LENGTH]
    return None


def from_sqs_record(record: Mapping[str, Any]) -> str | None:
    """The ``correlation_id`` message attribute of a raw SQS record (``messageAttributes``), if any."""
    attributes = record.get("messageAttributes")
    if isinstance(attributes, Mapping):
        attribute = attributes.get(ATTRIBUTE)
        if isinstance(attribute, Mapping):
            value = attribute.get("stringValue")
            if isinstance(value, str) and value:
                return value[:MAX_LENGTH]
    return None


def message_attributes() -> dict[str, str]:
    """The attributes a producer puts on a message it sends for the current request."""
    value = _current.get()
    return {ATTRIBUTE: value} if value else {}


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id`` to every record (Powertools' JSON formatter prints record extras)."""

    def filter(self, record: logging.LogRecord) -> bool:
        value = _current.get()
        if value is not None and not hasattr(record, ATTRIBUTE):
            record.correlation_id = value
        return True
