"""``python -m infra.local serve`` as a real process: migrate, seed, serve, authenticate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

DEMO_KEY = "sk_live_" + "D3m0" * 10


def test_serve_brings_up_the_stack_with_the_demo_credentials(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MULTIBUZZ_DATA_DIR": str(tmp_path / "data"),
        "MULTIBUZZ_PORT": str(port),
        "MULTIBUZZ_DEMO_API_KEY": DEMO_KEY,
        "MULTIBUZZ_DEMO_ADMIN_EMAIL": "boss@demo.test",
        "MULTIBUZZ_DEMO_ADMIN_PASSWORD": "demo-password-123",
    }
    env.pop("MULTIBUZZ_DATABASE_URL", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "serve"],
        env=env,
        stdout=log,
        stderr=log,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/api/health-lite", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert health.json() == {"db": "ok"}
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "boss@demo.test", "password": "demo-password-123"}
        )
        assert login.status_code == 200 and login.json()["access_token"]
        key = httpx.get(f"{base}/api/v1/validate", headers={"authorization": f"Bearer {DEMO_KEY}"})
        assert key.status_code == 200 and key.json()["valid"] is True
        output = (tmp_path / "serve.log").read_text()
        assert DEMO_KEY in output and "boss@demo.test" in output
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    # A second start over the same data is idempotent (no duplicate demo rows, same key still valid).
    second = subprocess.run(
        [sys.executable, "-m", "infra.local", "prepare"],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert second.returncode == 0, second.stderr
    assert DEMO_KEY in second.stdout
