"""Read wrappers: exports.create/get/download and their errors (attribution is read back in test_client_e2e)."""

from __future__ import annotations

from pathlib import Path

import multibuzz_client as multibuzz
import pytest
from multibuzz.bootstrap import Container
from multibuzz_client import ApiError, Client

from tests.client.conftest import KEY, FakeMultibuzz
from tests.conftest import Api


def test_an_export_is_created_polled_and_downloaded(fake: FakeMultibuzz, tmp_path: Path) -> None:
    fake.script = [
        (202, {}, {"id": "exp_1", "status": "pending"}),
        (200, {}, {"id": "exp_1", "status": "running"}),
        (200, {}, {"id": "exp_1", "status": "ready", "download_url": f"{fake.url}/files/exp_1.csv"}),
        (200, {}, "date,revenue\n"),
    ]
    client = Client(api_key=KEY, api_url=fake.url, flush_at_exit=False)
    export = client.exports.create("conversions", **{"from": "2026-01-01", "to": "2026-01-31"})
    assert export == {"id": "exp_1", "status": "pending"}
    data = client.exports.download("exp_1", str(tmp_path / "out.csv"), poll=0.01)
    assert data == b'"date,revenue\\n"' and (tmp_path / "out.csv").read_bytes() == data
    create, *polls, file = fake.received
    assert (create.method, create.path, create.json) == (
        "POST",
        "/api/v1/exports",
        {"report": "conversions", "from": "2026-01-01", "to": "2026-01-31"},
    )
    assert [p.path for p in polls] == ["/api/v1/exports/exp_1"] * 2 and file.path == "/files/exp_1.csv"
    assert create.headers["authorization"] == f"Bearer {KEY}"


def test_a_failed_export_and_an_unknown_conversion_raise_api_error(fake: FakeMultibuzz) -> None:
    fake.script = [
        (200, {}, {"id": "exp_2", "status": "failed", "error": "no data"}),
        (404, {}, {"error": "not_found", "message": "Conversion not found"}),
    ]
    client = Client(api_key=KEY, api_url=fake.url, flush_at_exit=False)
    with pytest.raises(ApiError, match="export exp_2 failed: no data"):
        client.exports.download("exp_2")
    with pytest.raises(ApiError, match="HTTP 404 Conversion not found") as raised:
        client.attribution("conv_missing")
    assert raised.value.status == 404
    with pytest.raises(ValueError, match="exactly one of"):
        client.attribution()
    with pytest.raises(ValueError, match="model must be one of"):
        client.attribution("conv_1", model="best")


def test_reads_against_the_local_stack(api: Api, container: Container, gateway: str) -> None:
    import gzip

    from multibuzz.adapters.objects.local import LocalObjectStore

    from functions.exports.handler import lambda_handler
    from infra.local.dispatch import deliver_once

    container.__dict__["objects"] = LocalObjectStore(container.settings.resolved_object_dir, gateway, b"k")
    tenant = api.tenant("Reader")
    multibuzz.configure(api_key=tenant.api_key, api_url=gateway, flush_at_exit=False)
    assert multibuzz.attribution(visitor_id="0" * 64) == {"visitor_id": "0" * 64, "conversions": []}
    with pytest.raises(ApiError) as raised:
        multibuzz.exports.create("conversions")
    assert raised.value.status == 422, "from and to are required"
    export = multibuzz.exports.create("conversions", **{"from": "2026-01-01", "to": "2026-01-31"})
    assert export["status"] == "queued"
    assert deliver_once(container.local_queue, "exports", lambda_handler, batch_size=1).succeeded == 1
    data = multibuzz.exports.download(export["id"], wait=5, poll=0.05)
    assert gzip.decompress(data).decode().startswith("id,conversion_type,occurred_at,")


def test_unreachable_multibuzz_is_an_api_error_for_reads() -> None:
    from tests.conftest import free_port

    client = Client(api_key=KEY, api_url=f"http://127.0.0.1:{free_port()}", flush_at_exit=False, timeout=2)
    with pytest.raises(ApiError, match="unreachable"):
        client.attribution("conv_1")


def test_signed_requests_are_accepted_by_the_local_stack_and_a_wrong_secret_is_refused(
    api: Api, container: Container, gateway: str
) -> None:
    tenant = api.tenant("Signed")
    created = api.client.post(
        "/api/v1/api-keys", json={"name": "signed", "with_signing_secret": True}, headers=api.auth(tenant.owner_token)
    )
    assert created.status_code == 201, created.text
    key, secret = created.json()["key"], created.json()["signing_secret"]
    assert secret
    signed = Client(api_key=key, api_url=gateway, signing_secret=secret, flush_at_exit=False, flush_interval=0.02)
    signed.track("signup", {"plan": "pro"}, visitor_id="5" * 64)
    signed.identify("user-5", visitor_id="5" * 64)
    assert signed.flush(20)
    assert (signed.stats()["sent"], signed.stats()["rejected"]) == (2, 0)
    forged = Client(api_key=key, api_url=gateway, signing_secret="whsec_wrong", flush_at_exit=False)
    forged.track("signup", visitor_id="5" * 64)
    assert forged.flush(20)
    assert forged.stats()["rejected"] == 1, "a 401 is not retried; it is logged"
