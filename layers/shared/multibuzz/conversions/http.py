"""``POST /api/v1/conversions`` (functions/events): validate, store pending, enqueue; optional bounded wait."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from multibuzz.adapters.queue.base import QueueUnavailableError
from multibuzz.bootstrap import Container
from multibuzz.conversions.request import Problems, parse_conversion
from multibuzz.conversions.schema import CONVERSION_BODY, ConversionAcceptedOut
from multibuzz.conversions.views import attribution_view, conversion_view
from multibuzz.db.models import Conversion
from multibuzz.errors import ServiceUnavailableError
from multibuzz.http.deps import ContainerDep
from multibuzz.http.errors import error_body
from multibuzz.http.openapi import json_body
from multibuzz.http.signing import SignedKeyAuth
from multibuzz.observability import get_logger
from multibuzz.services import conversions as service

router = APIRouter(prefix="/api/v1", tags=["conversions"])
logger = get_logger("events")


def _invalid(problems: Problems) -> JSONResponse:
    message = "; ".join(p["message"] for p in problems.items)
    return JSONResponse(error_body("validation_error", message, problems.items), status_code=422)


def _wait(container: Container, conversion_id: str, seconds: float) -> tuple[Conversion, dict[str, Any] | None]:
    deadline = time.monotonic() + seconds
    while True:
        with container.session() as session:
            conversion = session.get(Conversion, conversion_id)
            assert conversion is not None
            view = attribution_view(session, conversion)
        if view is not None or time.monotonic() >= deadline:
            return conversion, view
        time.sleep(0.05)


def accept_conversion(
    body: Any,
    *,
    principal_account: str,
    container: Container,
    session: Session,
    idempotency_key: str | None,
    wait: float,
) -> JSONResponse:
    parsed = parse_conversion(body, now=container.clock.now(), idempotency_header=idempotency_key)
    if isinstance(parsed, Problems):
        return _invalid(parsed)
    conversion, created = service.submit_conversion(session, container, principal_account, parsed)
    session.commit()
    if conversion.status == "pending":
        try:
            service.enqueue(container, conversion)
        except QueueUnavailableError as exc:
            logger.error("conversion could not be queued", extra={"conversion_id": conversion.id})
            raise ServiceUnavailableError(
                "the conversion was stored but could not be queued for attribution; retry with the same "
                "Idempotency-Key to finish"
            ) from exc
    attribution = None
    if wait > 0:
        conversion, attribution = _wait(
            container, conversion.id, min(wait, container.settings.conversion_max_wait_seconds)
        )
    elif conversion.status == "attributed":
        attribution = attribution_view(session, conversion)
    status = 201 if attribution is not None else 202
    payload = {"conversion": conversion_view(conversion), "attribution": attribution, "duplicate": not created}
    return JSONResponse(payload, status_code=status)


@router.post(
    "/conversions",
    status_code=202,
    summary="Record a conversion; attribution follows asynchronously",
    response_model=None,
    responses={
        202: {"model": ConversionAcceptedOut, "description": "Stored and queued; `attribution` is null"},
        201: {"model": ConversionAcceptedOut, "description": "Attributed within `?wait` seconds"},
    },
    openapi_extra=json_body(*CONVERSION_BODY, description='flat, or wrapped as `{"conversion": {...}}`'),
)
async def post_conversion(
    request: Request,
    principal: SignedKeyAuth,
    container: ContainerDep,
    wait: float = Query(default=0, ge=0, le=30, description="Seconds to wait for the attribution (bounded)"),
) -> JSONResponse:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return JSONResponse(error_body("malformed_json", "request body is not valid JSON"), status_code=400)
    from starlette.concurrency import run_in_threadpool

    def work() -> JSONResponse:
        with container.session() as session:
            return accept_conversion(
                body,
                principal_account=principal.account_id,
                container=container,
                session=session,
                idempotency_key=request.headers.get("idempotency-key"),
                wait=wait,
            )

    return await run_in_threadpool(work)
