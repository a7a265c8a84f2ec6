"""``POST /api/v1/conversions`` (functions/events): validate, store pending, enqueue; optional bounded wait."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from multibuzz.adapters.queue.base import QueueUnavailableError
from multibuzz.bootstrap import Container
from multibuzz.conversions.request import Problems, parse_conversion
from multibuzz.conversions.schema import CONVERSION_BODY, ConversionAcceptedOut
from multibuzz.conversions.views import attribution_view, conversion_answer, visitor_keys
from multibuzz.db.models import Conversion
from multibuzz.errors import ServiceUnavailableError
from multibuzz.http.deps import ContainerDep
from multibuzz.http.errors import error_body
from multibuzz.http.json_body import loads_object
from multibuzz.http.openapi import json_body
from multibuzz.ingest.app import RawBody, Writer
from multibuzz.observability import get_logger
from multibuzz.services import conversions as service
from multibuzz.telemetry import correlation, metrics

router = APIRouter(prefix="/api/v1", tags=["conversions"])
logger = get_logger("events")
MAX_WAIT_SECONDS = 10.0  # ``?wait`` above this is a 422; the setting conversion_max_wait_seconds may lower it


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
    conversion, created = service.submit_conversion(
        session, container, principal_account, parsed, request_id=correlation.current()
    )
    session.commit()
    if created:
        metrics.count(metrics.Metric.CONVERSIONS_ACCEPTED)
    if conversion.status == "pending":
        try:
            service.enqueue(container, conversion)
        except QueueUnavailableError as exc:
            logger.error("conversion could not be queued", extra={"conversion_id": conversion.id})
            if created:  # nothing half-accepted: the row goes, the client retries the whole request
                session.delete(conversion)
                session.commit()
            raise ServiceUnavailableError(
                "the attribution queue is unavailable; nothing was recorded, retry shortly"
            ) from exc
    attribution = None
    if wait > 0:
        conversion, attribution = _wait(
            container, conversion.id, min(wait, container.settings.conversion_max_wait_seconds)
        )
    elif conversion.status == "attributed":
        attribution = attribution_view(session, conversion)
    status = 201 if attribution is not None else 202
    key = visitor_keys(session, [conversion]).get(conversion.visitor_id or "")
    payload = {**conversion_answer(conversion, key, attribution), "duplicate": not created}
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
def post_conversion(
    request: Request,
    principal: Writer,
    body: RawBody,
    container: ContainerDep,
    wait: float = Query(
        default=0,
        ge=0,
        le=MAX_WAIT_SECONDS,
        description=f"Seconds (0-{MAX_WAIT_SECONDS:g}) to wait for the attribution; 201 with it when it is ready",
    ),
) -> JSONResponse:
    """Same limits as ``/events`` (the ``Writer`` and ``RawBody`` dependencies): 1 MB body, the per-key
    rate limit, the ``X-Signature`` check; then the body as one JSON object."""
    data = loads_object(body)
    with container.session() as session:
        return accept_conversion(
            data,
            principal_account=principal.account_id,
            container=container,
            session=session,
            idempotency_key=request.headers.get("idempotency-key"),
            wait=wait,
        )
