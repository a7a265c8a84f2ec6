from __future__ import annotations

from typing import Protocol


class ObjectNotFoundError(KeyError):
    pass


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str: ...
