"""functions/redirect: GET /r/{code}. The hot path: kept free of FastAPI and database writes.

Tracking links arrive with the influencer issue; until then every code is unknown.
"""

from typing import Any

_NOT_FOUND_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
    "<body><h1>Link not found</h1><p>This tracking link does not exist.</p></body></html>"
)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "statusCode": 404,
        "headers": {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"},
        "body": _NOT_FOUND_PAGE,
    }
