"""The JSON envelope of every queued message: ``{"kind", "account_id", "id", "payload"}``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

# One encoder for the hot path: ``json.dumps`` with arguments builds a new encoder per call. NaN and
# infinities are refused here so that such a payload takes ``Envelope``'s own path (which writes null).
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class Envelope(BaseModel):
    kind: str = Field(min_length=1)
    id: str = Field(min_length=1, description="Natural key of the message; consumers use it for idempotency")
    account_id: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)

    def dumps(self) -> str:
        return self.model_dump_json()

    @classmethod
    def loads(cls, body: str) -> Envelope:
        return cls.model_validate(json.loads(body))


def dumps_envelope(kind: str, id: str, account_id: str, payload: dict[str, Any]) -> str:
    """``Envelope(kind=…, id=…, account_id=…, payload=…).dumps()`` for a payload of plain JSON values (what
    a request body parses to, plus str/int/float/bool/None), without building and validating the model: the
    ingestion path writes one per request. Anything else (NaN, a lone surrogate, a value json cannot
    encode, an empty name) goes through the model, so it ends exactly as it did there."""
    if kind and id and account_id:
        try:
            text = _ENCODE({"kind": kind, "id": id, "account_id": account_id, "payload": payload})
            if text.isascii() or text.encode():
                return text
        except (TypeError, ValueError):  # ValueError covers NaN and UnicodeEncodeError
            pass
    return Envelope(kind=kind, id=id, account_id=account_id, payload=payload).dumps()
