"""X-Ray tracing (issue #16): the consumer's invocation subsegment carries the annotations, sent to a real
UDP listener standing in for the X-Ray daemon; and the redirect never loads the tracer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONSUMER = r"""
import json
from multibuzz.telemetry import tracing
from multibuzz.telemetry.invocation import invocation

with invocation("attribution", None, flush=False):
    tracing.annotate("message_kind", "events.track")
    tracing.annotate("account_id", "acc_123")
print(json.dumps({"tracer": type(tracing.tracer()).__name__}))
"""

REDIRECT = r"""
import sys
import functions.redirect.handler as h
h.lambda_handler({"rawPath": "/r/x", "pathParameters": {"code": "!"}, "requestContext": {"http": {}}}, None)
print("aws_xray_sdk" in sys.modules)
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'shared'}", **extra}


def test_the_invocation_subsegment_carries_account_and_message_kind_annotations(tmp_path: Path) -> None:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(1)  # the subprocess has finished: its packets are already queued
    port = daemon.getsockname()[1]
    env = _env(
        AWS_LAMBDA_FUNCTION_NAME="multibuzz-test-attribution",
        LAMBDA_TASK_ROOT=str(tmp_path),
        AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{port}",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
        MULTIBUZZ_STAGE="test",
        MULTIBUZZ_DATA_DIR=str(tmp_path),
    )
    done = subprocess.run([sys.executable, "-c", CONSUMER], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"tracer": "Tracer"}
    documents = []
    try:
        while True:
            packet, _ = daemon.recvfrom(65536)
            header, _, body = packet.decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            documents.append(json.loads(body))
    except TimeoutError:
        pass
    finally:
        daemon.close()
    (subsegment,) = [d for d in documents if d.get("name") == "## attribution"]
    assert subsegment["annotations"] == {"message_kind": "events.track", "account_id": "acc_123"}
    assert subsegment["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


def test_the_redirect_never_imports_the_xray_sdk(tmp_path: Path) -> None:
    env = _env(AWS_LAMBDA_FUNCTION_NAME="multibuzz-test-redirect", MULTIBUZZ_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", REDIRECT], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"
