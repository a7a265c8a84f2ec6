from __future__ import annotations

from typing import Protocol


class ObjectNotFoundError(KeyError):
    pass


class Upload(Protocol):
    """An object written in parts (S3 multipart upload; a temporary file locally), visible only once complete.

    ``upload_id`` names it so that a later process can abort it (a worker that crashed mid-upload)."""

    key: str
    upload_id: str

    def write_part(self, data: bytes) -> None:
        """Append one part. With S3 every part but the last must be at least 5 MiB."""
        ...

    def complete(self) -> None: ...

    def abort(self) -> None: ...


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str: ...

    def start_upload(self, key: str, content_type: str) -> Upload: ...

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an upload started earlier (maybe by another process); nothing happens if it is gone."""
        ...
