"""The JSON envelope of every queued message: ``{"kind", "account_id", "id", "payload"}``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field
from pydantic_core import to_json


class Envelope(BaseModel):
    kind: str = Field(min_length=1)
    id: str = Field(min_length=1, description="Natural key of the message; consumers use it for idempotency")
    account_id: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)
    # The request that produced the message (the ``correlation_id`` message attribute, never in the body).
    correlation_id: str | None = Field(default=None, exclude=True)

    def dumps(self) -> str:
        return self.model_dump_json()

    @classmethod
    def loads(cls, body: str, correlation_id: str | None = None) -> Envelope:
        envelope = cls.model_validate(json.loads(body))
        envelope.correlation_id = correlation_id
        return envelope


def dumps_envelope(kind: str, id: str, account_id: str, payload: dict[str, Any]) -> str:
    """``Envelope(kind=…, id=…, account_id=…, payload=…).dumps()`` — the same text, written by the same
    serializer (pydantic-core's, NaN and infinities as null as in the model) — without building and
    validating the model: the ingestion path writes one per request, and pydantic-core writes JSON several
    times faster than the ``json`` module. What the model would refuse (an empty name, a value it cannot
    serialize, a lone surrogate) goes through the model, so it fails exactly as it did there."""
    if kind and id and account_id:
        try:
            return to_json(
                {"kind": kind, "id": id, "account_id": account_id, "payload": payload}, inf_nan_mode="null"
            ).decode()
        except ValueError:  # PydanticSerializationError
            pass
    return Envelope(kind=kind, id=id, account_id=account_id, payload=payload).dumps()
