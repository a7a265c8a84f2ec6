"""``python -m infra.local serve`` as a real process: migrate, seed, serve, authenticate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.functional.served import ServedStack, wait_until

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
        assert_redirects_reach_the_clicks_api(base, login.json()["access_token"])
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


def assert_redirects_reach_the_clicks_api(base: str, token: str) -> None:
    """Redirect → click journal → the ship-clicks process → clicks queue → consumer thread → clicks API."""
    headers = {"authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, str]) -> dict[str, str]:
        response = httpx.post(f"{base}{path}", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return dict(response.json())

    campaign = post("/api/v1/campaigns", {"name": "Served", "slug": "served"})
    influencer = post("/api/v1/influencers", {"name": "Ria", "handle": "@ria"})
    link = post(
        "/api/v1/links",
        {"campaign_id": campaign["id"], "influencer_id": influencer["id"], "destination_url": "https://shop.example/"},
    )
    for n in range(5):
        redirect = httpx.get(f"{base}/r/{link['code']}", headers={"referer": f"https://social.example/post/{n}"})
        assert redirect.status_code == 302 and redirect.headers["location"].endswith(f"ref_code={link['code']}")
    deadline = time.monotonic() + 30
    clicks: list[dict[str, str]] = []
    while len(clicks) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
        clicks = httpx.get(f"{base}/api/v1/clicks", params={"link_id": link["id"]}, headers=headers).json()["data"]
    assert len(clicks) == 5, "every redirect became a stored click"
    assert {c["referrer"] for c in clicks} == {f"https://social.example/post/{n}" for n in range(5)}


@pytest.mark.parametrize("command", ["prepare", "serve"])
def test_an_invalid_demo_key_is_one_clear_line_and_a_failure(tmp_path: Path, command: str) -> None:
    env = {**os.environ, "MULTIBUZZ_DATA_DIR": str(tmp_path / "data"), "MULTIBUZZ_PORT": str(free_port())}
    env["MULTIBUZZ_DEMO_API_KEY"] = "not-a-key"
    env.pop("MULTIBUZZ_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "infra.local", command],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "MULTIBUZZ_DEMO_API_KEY" in lines[0] and "sk_live_" in lines[0]
    assert "not-a-key" not in result.stderr + result.stdout, "a secret setting is not echoed back"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_no_child_outlives_the_server(tmp_path: Path, signum: int) -> None:
    """A signal to the server process alone (not its group) takes the click shipper with it."""
    stack = ServedStack(tmp_path / "data")
    try:
        stack.start()
        stack.wait_healthy()
        wait_until(stack.children, 30, "serve starts the ship-clicks process")
        children = stack.children()
        stack.signal(signum)
        stack.wait_exit()
        alive = lambda: [c for c in children if c.alive()]  # noqa: E731
        deadline = time.monotonic() + 30
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = alive()
        assert not survivors, (
            f"children outlived the server: {[_describe(c.pid) for c in survivors]}\n"
            f"log tail:\n{stack.log_path.read_text()[-4000:]}"
        )
    finally:
        stack.cleanup()


def _describe(pid: int) -> str:
    """A survivor's command line, state and threads, so a failure says what the process was doing."""
    proc = Path(f"/proc/{pid}")
    try:
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
        threads = sorted((task / "comm").read_text().strip() for task in (proc / "task").iterdir())
        wchan = (proc / "wchan").read_text().strip()
    except (OSError, StopIteration) as exc:
        return f"{pid}: gone while described ({exc})"
    return f"{pid} [{cmdline}] {state} wchan={wchan} threads={threads}"
