"""Object stores: a local folder served through the gateway, and S3 (moto server, real HTTP)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import boto3
import httpx
import pytest
from multibuzz.adapters.objects.base import ObjectNotFoundError
from multibuzz.adapters.objects.local import LocalObjectStore
from multibuzz.adapters.objects.s3 import S3ObjectStore, client_config
from multibuzz.bootstrap import Container


def test_local_presigned_url_downloads_through_the_gateway(container: Container, gateway: str) -> None:
    store = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"k")
    container.__dict__["objects"] = store
    store.put("exports/acc_1/report.csv", b"channel,revenue\nemail,99.00\n", "text/csv")
    url = store.presigned_url("exports/acc_1/report.csv", expires_in=60, filename="report.csv")
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == b"channel,revenue\nemail,99.00\n"
    assert response.headers["content-type"] == "text/csv"
    assert 'filename="report.csv"' in response.headers["content-disposition"]

    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    query["signature"] = "0" * 64
    tampered = httpx.get(f"{gateway}{parsed.path}?{urlencode(query)}")
    assert tampered.status_code == 403 and tampered.json()["error"] == "forbidden"


def test_local_urls_expire_and_keys_cannot_escape(tmp_path: Path) -> None:
    now = [1000.0]
    store = LocalObjectStore(tmp_path, "http://x", b"k", now=lambda: now[0])
    store.put("a/b.json", b"{}", "application/json")
    url = store.presigned_url("a/b.json", expires_in=10)
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert store.verify("a/b.json", query["expires"], query["signature"])
    now[0] += 11
    assert not store.verify("a/b.json", query["expires"], query["signature"])
    with pytest.raises(ValueError, match="invalid object key"):
        store.put("../escape", b"x", "text/plain")
    with pytest.raises(ObjectNotFoundError):
        store.get("a/missing.json")


def test_s3_presigned_url_is_a_real_http_download(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def client() -> object:
        return boto3.session.Session().client(
            "s3", region_name="us-east-1", endpoint_url=moto_endpoint, config=client_config()
        )

    s3 = client()
    s3.create_bucket(Bucket="multibuzz-exports")  # type: ignore[attr-defined]
    store = S3ObjectStore(client, "multibuzz-exports")
    store.put("exports/acc_1/r.json", b'{"rows": 1}', "application/json")
    assert store.get("exports/acc_1/r.json") == b'{"rows": 1}'
    url = store.presigned_url("exports/acc_1/r.json", expires_in=300, filename="r.json")
    assert "X-Amz-Signature" in url
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == b'{"rows": 1}'
    assert 'filename="r.json"' in response.headers.get("content-disposition", "")
    with pytest.raises(ObjectNotFoundError):
        store.get("exports/acc_1/missing.json")
