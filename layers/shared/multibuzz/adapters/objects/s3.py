"""S3 object store; downloads through presigned GET URLs."""

from __future__ import annotations

import contextlib
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

    def start_upload(self, key: str, content_type: str) -> S3Upload:
        created = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type, ServerSideEncryption="AES256"
        )
        return S3Upload(self.client, self.bucket, key, str(created["UploadId"]))

    def abort_upload(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(self.client.exceptions.NoSuchUpload):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url


class S3Upload:
    """One S3 multipart upload: ``upload_part`` per part (≥ 5 MiB but the last), then complete or abort."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self.key = key
        self.upload_id = upload_id
        self._client = client
        self._bucket = bucket
        self._parts: list[dict[str, Any]] = []

    def write_part(self, data: bytes) -> None:
        number = len(self._parts) + 1
        answer = self._client.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=data
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        if not self._parts:  # S3 needs at least one part
            self.write_part(b"")
        self._client.complete_multipart_upload(
            Bucket=self._bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self._parts}
        )

    def abort(self) -> None:
        with contextlib.suppress(self._client.exceptions.NoSuchUpload):
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self.upload_id)
