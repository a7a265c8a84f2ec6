"""X-Ray traces with Powertools Tracer, built on first use and only inside Lambda.

Outside Lambda (local stack, tests) there is no X-Ray daemon: ``tracer()`` is None and every helper is a
no-op costing one cached lookup. Inside Lambda the tracer is created on the first traced invocation (so
``aws_xray_sdk`` is never imported at module import time), patches boto3/botocore and pymysql, and each
invocation runs in a ``## <function>`` subsegment carrying the annotations (``account_id``,
``message_kind``) — annotations cannot go on Lambda's own facade segment.

The redirect does not load the tracer (``MULTIBUZZ_TRACE_REDIRECT``, off by default): importing
``aws_xray_sdk`` and patching clients costs more than its cold-start budget (see the README's benchmark
figures); Lambda's active tracing still records its invocation segments.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any


@cache
def tracer() -> Any | None:
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in (
        "1",
        "true",
    ):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service="multibuzz", patch_modules=["boto3", "botocore", "pymysql"])


@contextmanager
def traced(function: str) -> Iterator[None]:
    current = tracer()
    if current is None:
        yield
        return
    with current.provider.in_subsegment(name=f"## {function}"):
        yield


def annotate(key: str, value: str | None) -> None:
    """An X-Ray annotation (indexed, searchable) on the invocation's subsegment; bounded keys only."""
    if value is None:
        return
    current = tracer()
    if current is not None:
        try:
            current.put_annotation(key=key, value=value)
        except Exception:
            return
