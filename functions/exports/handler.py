"""functions/exports: export requests over HTTP, and the queue-triggered worker that writes them.

HTTP (API Gateway): ``POST/GET /api/v1/exports``, ``GET /api/v1/exports/{export_id}``, and
``GET /api/v1/events/export.csv`` — a FastAPI app (multibuzz.exports.http) behind Mangum.
SQS (the exports queue): one export per message, streamed to the object store (multibuzz.exports.worker).
"""

from typing import Any

from multibuzz.apps import create_exports_app
from multibuzz.runtime.asgi import LazyAsgiHandler

_http = LazyAsgiHandler(create_exports_app)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "Records" in event:
        from multibuzz.exports.worker import handle_export_batch

        return handle_export_batch(event, context)
    return _http(event, context)
