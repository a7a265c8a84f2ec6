"""Objects in a local folder. Download URLs are signed (HMAC-SHA256) and expire, like S3's."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlencode

from multibuzz.adapters.objects.base import ObjectNotFoundError


def _safe_key(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"invalid object key {key!r}")
    return path


class LocalObjectStore:
    def __init__(self, root: Path, base_url: str, signing_key: bytes, now: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self._key = signing_key
        self._now = now

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_safe_key(key).parts)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        path.with_suffix(path.suffix + ".content-type").write_text(content_type)

    def start_upload(self, key: str, content_type: str) -> LocalUpload:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return LocalUpload(self, key, secrets.token_hex(16), content_type)

    def abort_upload(self, key: str, upload_id: str) -> None:
        self._part_path(key, upload_id).unlink(missing_ok=True)

    def _part_path(self, key: str, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise ValueError(f"invalid upload id {upload_id!r}")
        path = self._path(key)
        return path.with_name(f"{path.name}.upload-{upload_id}")

    def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(key)
        return path.read_bytes()

    def content_type(self, key: str) -> str:
        meta = self._path(key).with_suffix(self._path(key).suffix + ".content-type")
        return meta.read_text() if meta.is_file() else "application/octet-stream"

    def _signature(self, key: str, expires: int, filename: str) -> str:
        message = f"{key}\n{expires}\n{filename}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str:
        _safe_key(key)
        expires = int(self._now()) + expires_in
        name = filename or ""
        query = {"expires": str(expires), "signature": self._signature(key, expires, name)}
        if name:
            query["filename"] = name
        return f"{self.base_url}/_local/objects/{quote(key)}?{urlencode(query)}"

    def verify(self, key: str, expires: str, signature: str, filename: str = "") -> bool:
        """Constant-time check of a URL made by :meth:`presigned_url`."""
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        expected = self._signature(key, expires_at, filename)
        return hmac.compare_digest(expected, signature) and expires_at >= self._now()


class LocalUpload:
    """Parts appended to a temporary file beside the object; ``complete`` renames it into place (atomic)."""

    def __init__(self, store: LocalObjectStore, key: str, upload_id: str, content_type: str) -> None:
        self.key = key
        self.upload_id = upload_id
        self._store = store
        self._content_type = content_type
        self._temp = store._part_path(key, upload_id)
        self._file = self._temp.open("wb")

    def write_part(self, data: bytes) -> None:
        self._file.write(data)

    def complete(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        path = self._store._path(self.key)
        path.with_suffix(path.suffix + ".content-type").write_text(self._content_type)
        self._temp.replace(path)

    def abort(self) -> None:
        self._file.close()
        self._temp.unlink(missing_ok=True)
