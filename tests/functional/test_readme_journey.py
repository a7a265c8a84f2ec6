"""The README's copy-paste journey, run as written against the real local gateway and consumers.

The shell block between ``<!-- journey:start -->`` and ``<!-- journey:end -->`` is executed with bash
(curl + python3, as a reader would), on a freshly seeded demo account; what it prints must equal the
output pasted in the README (ids aside). So the README cannot drift from the API.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from multibuzz.bootstrap import Container
from multibuzz.services.seed import seed_demo

from infra.local.runtime import LocalRuntime

README = Path(__file__).resolve().parents[2] / "README.md"
IDS = re.compile(r"\b(evt|conv|acc|vis|idt|ses|sess)_[0-9a-z]+\b")

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("python3") is None, reason="the journey needs curl and python3"
)


def block(marker: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker}:start -->\n```\w*\n(.*?)```\n<!-- {marker}:end -->", text, re.S)
    assert found, f"README has no {marker} block"
    return found.group(1)


def normalised(output: str) -> list[str]:
    return [IDS.sub(lambda m: f"{m.group(1)}_<id>", line.rstrip()) for line in output.strip().splitlines()]


@pytest.fixture
def consumers(container: Container) -> Iterator[None]:
    runtime = LocalRuntime(container, run_schedules=False)
    runtime.start()
    yield
    runtime.stop()


def test_the_readme_journey_runs_as_printed(gateway: str, container: Container, consumers: None) -> None:
    credentials = container.settings.data_dir / "demo-credentials.json"
    with container.session() as session:
        seed_demo(
            session,
            clock=container.clock,
            ids=container.ids,
            secret_box=container.secret_box,
            admin_email="admin@multibuzz.local",
            admin_password=None,
            api_key=None,
            credentials_file=credentials,
        )
        session.commit()
    env = {**os.environ, "MB": gateway, "CREDS": str(credentials)}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("journey")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert normalised(result.stdout) == normalised(block("journey-output")), result.stdout
