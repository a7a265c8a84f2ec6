"""S3 object store; downloads through presigned GET URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from multibuzz.adapters.objects.base import ObjectNotFoundError


def client_config() -> Any:
    """SigV4 presigned URLs (SigV2 is deprecated and refused in newer regions)."""
    from botocore.config import Config

    return Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"})


class S3ObjectStore:
    def __init__(self, client_factory: Callable[[], Any], bucket: str) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self.bucket = bucket

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, ServerSideEncryption="AES256"
        )

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey as exc:
            raise ObjectNotFoundError(key) from exc
        body: bytes = response["Body"].read()
        return body

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url
