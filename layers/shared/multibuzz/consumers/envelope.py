"""The JSON envelope of every queued message: ``{"kind", "account_id", "id", "payload"}``."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field


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
