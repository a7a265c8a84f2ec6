"""The ingestion API application (mbuzz v1 wire format): authenticate, validate, enqueue.

Request path of every write: body size → API key → per-key rate limit → signature
(``X-Signature``: HMAC-SHA256 of the raw body; required when the account sets
``require_signature``) → JSON → per-event validation → queue. Nothing is written
to the database here.

Every dependency and endpoint here is ``async def`` although it blocks (the queue write): a sync one would
be handed to a thread pool, one hop per dependency. One Lambda invocation is one request on its own event
loop (Mangum), so blocking it costs nothing; the local gateway gives each invocation a worker thread.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from multibuzz.auth.signatures import verify
from multibuzz.bootstrap import Container
from multibuzz.errors import (
    AuthenticationError,
    InvalidInputError,
    MultibuzzError,
    NotFoundError,
    RateLimitedError,
    ServiceUnavailableError,
)
from multibuzz.http.app import create_app
from multibuzz.http.deps import ContainerDep, KeyAuth
from multibuzz.http.errors import error_body, readable
from multibuzz.http.json_body import loads_object
from multibuzz.http.openapi import json_body
from multibuzz.http.responses import CompactJSONResponse
from multibuzz.ingest import wire
from multibuzz.ingest.enqueue import BatchOutcome, EventError, Ingestor
from multibuzz.ingest.ratelimit import retry_after_header
from multibuzz.ingest.schemas import (
    ALIAS_ACTIONS,
    MAX_BODY_BYTES,
    IdentifyIn,
    SessionBody,
    UnifiedEventIn,
)
from multibuzz.services.context import KeyPrincipal

router = APIRouter(prefix="/api/v1", tags=["ingestion"])


class PayloadTooLargeError(MultibuzzError):
    status = 413
    code = "payload_too_large"


async def raw_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"request body exceeds {MAX_BODY_BYTES} bytes (1 MB)")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"request body exceeds {MAX_BODY_BYTES} bytes (1 MB)")
    return body


RawBody = Annotated[bytes, Depends(raw_body)]


async def writer(request: Request, body: RawBody, principal: KeyAuth, container: ContainerDep) -> KeyPrincipal:
    """The API key may write: within its rate limit, and signed when it must be."""
    wait = container.rate_limiter.take(principal.api_key_id, container.settings.api_key_rate_limit_per_minute)
    if wait > 0:
        raise RateLimitedError("rate limit exceeded for this API key", retry_after=retry_after_header(wait))
    signature = request.headers.get("x-signature")
    required = principal.account_settings.get("require_signature") is True
    if signature is not None or required:
        header = "X-Signature"
        if not signature:
            raise AuthenticationError(
                "this account requires an X-Signature header (HMAC-SHA256 of the body)", field=header
            )
        if not signature.isascii():  # a hex digest is ASCII; anything else cannot match (and hmac refuses it)
            raise AuthenticationError("X-Signature must be the hex HMAC-SHA256 of the body (ASCII)", field=header)
        if not principal.signing_secret:
            raise AuthenticationError("X-Signature sent but this API key has no signing secret", field=header)
        if not verify(principal.signing_secret, body, signature):
            raise AuthenticationError("invalid X-Signature", field=header)
    return principal


Writer = Annotated[KeyPrincipal, Depends(writer)]


def _json_object(body: bytes) -> dict[str, Any]:
    return loads_object(body)


def _ingestor(principal: KeyPrincipal, container: Container) -> Ingestor:
    return Ingestor(
        principal,
        container.queue,
        container.ids,
        container.clock.now(),
        container.settings.encryption_key.get_secret_value(),
    )


def _validate(model: Any, data: dict[str, Any], now: Any) -> Any:
    try:
        return model.model_validate(data, context={"now": now})
    except ValidationError as exc:
        errors = [readable(dict(e)) for e in exc.errors(include_url=False, include_context=False)]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise BatchValidationError(message, errors) from None


class BatchValidationError(InvalidInputError):
    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message, field=errors[0]["field"] if errors else None)
        self.errors = errors


_STRING = json.encoder.encode_basestring  # a JSON string literal, as the JSON encoder writes it


def _accepted_one(index: int, event_id: str) -> Response:
    """``CompactJSONResponse(outcome.body(), status_code=202)`` for one accepted event and no error: the
    same bytes and headers, written without building and encoding the document."""
    content = f'{{"accepted":1,"rejected":0,"events":[{{"index":{index},"id":{_STRING(event_id)}}}],"errors":[]}}'
    return Response(content.encode(), status_code=status.HTTP_202_ACCEPTED, media_type="application/json")


def _batch_response(outcome: BatchOutcome) -> Response:
    """202 when at least one event was accepted; 422 (same body, plus error/message) when none was."""
    if outcome.refused_by_queue():
        raise ServiceUnavailableError("the ingest queue refused every event; nothing was accepted, retry shortly")
    if len(outcome.accepted) == 1 and not outcome.errors and not outcome.anonymous:  # most SDK requests
        return _accepted_one(*outcome.accepted[0])
    body = outcome.body()
    if outcome.accepted:
        return CompactJSONResponse(body, status_code=status.HTTP_202_ACCEPTED)
    message = "; ".join(f"{e['field']}: {e['message']}" for e in body["errors"][:10]) or "no events"
    return CompactJSONResponse({**error_body("validation_error", message), **body}, status_code=422)


def _single_error(errors: list[EventError]) -> JSONResponse:
    items = [{"field": e.field, "message": e.message} for e in errors]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in items)
    return CompactJSONResponse(error_body("validation_error", message, items), status_code=422)


@router.get("/validate", summary="Check an API key", response_model=None, responses={200: {"model": wire.ValidateOut}})
async def validate_key(principal: KeyAuth) -> dict[str, object]:
    return {"valid": True, "account_id": principal.account_id, "environment": principal.environment}


@router.post(
    "/events",
    summary="Track events (mbuzz batch form, or the unified single-event form)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses={202: {"model": wire.EventsAcceptedOut}, 422: {"model": wire.EventsRejectedOut}},
    openapi_extra=json_body(
        *wire.EVENTS_BODY, description='`{"events": [...]}`, one unified event (`action`), or one bare event'
    ),
)
async def track_events(request: Request, principal: Writer, body: RawBody, container: ContainerDep) -> Response:
    data = _json_object(body)
    ingestor = _ingestor(principal, container)
    idempotency_key = request.headers.get("idempotency-key") or None
    if "events" in data:
        raw_events = data["events"]
        if not isinstance(raw_events, list):
            raise InvalidInputError("events must be a list of event objects", field="events")
        if not raw_events:
            raise InvalidInputError("events must hold at least one event", field="events")
        valid, errors = ingestor.validate_events(raw_events)
        return _batch_response(ingestor.track(valid, errors, idempotency_key=idempotency_key))
    if "action" in data:
        return _unified(ingestor, data, None, idempotency_key)
    if "event_type" in data:  # one bare event: answered like a batch of one
        valid, errors = ingestor.validate_events([data])
        return _batch_response(ingestor.track(valid, errors, idempotency_key=idempotency_key))
    raise InvalidInputError("events is required (a list of events), or action for the unified form", field="events")


@router.post(
    "/event/{action}",
    summary="Unified single event, action in the path",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=None,
    responses={202: {"model": wire.EventsAcceptedOut}},
    openapi_extra=json_body(wire.UNIFIED_BODY, description="`action` may be omitted: the path names it"),
)
async def track_action(
    action: str, request: Request, principal: Writer, body: RawBody, container: ContainerDep
) -> JSONResponse:
    if action not in ALIAS_ACTIONS:
        raise NotFoundError(f"unknown action {action!r}; use one of {', '.join(ALIAS_ACTIONS)}")
    data = _json_object(body)
    return _unified(_ingestor(principal, container), data, action, request.headers.get("idempotency-key") or None)


def _unified(ingestor: Ingestor, data: dict[str, Any], action: str | None, idempotency_key: str | None) -> JSONResponse:
    valid, errors = ingestor.validate_events([data], model=UnifiedEventIn, prefix="", action=action)
    if errors:
        return _single_error(errors)
    outcome = ingestor.track(valid, errors, idempotency_key=idempotency_key)
    if outcome.refused_by_queue():
        raise ServiceUnavailableError("the ingest queue refused the event; nothing was accepted, retry shortly")
    if not outcome.accepted:
        return _single_error(outcome.errors)
    event_id = outcome.accepted[0][1]
    body: dict[str, Any] = {"success": True, "event_id": event_id, **outcome.body()}
    conversion_id = outcome.conversions.get(event_id)
    if conversion_id is not None:  # a purchase is also a conversion, attributed by the consumer
        body["conversion_id"] = conversion_id
        body["conversion"] = {"id": conversion_id, "status": "pending"}
    return CompactJSONResponse(body, status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/sessions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Record a session start (a visit's hit)",
    response_model=None,
    responses={202: {"model": wire.SessionAcceptedOut}},
    openapi_extra=json_body(wire.SESSION_BODY),
)
async def create_session(request: Request, principal: Writer, body: RawBody, container: ContainerDep) -> dict[str, Any]:
    data = _json_object(body)
    hit = _validate(SessionBody, data, container.clock.now()).session
    ingestor = _ingestor(principal, container)
    anonymous = ingestor.session_hit(hit, idempotency_key=request.headers.get("idempotency-key") or None)
    answer: dict[str, Any] = {"status": "accepted", "visitor_id": hit.visitor_id, "session_id": hit.session_id}
    if anonymous:  # no analytics consent: stored without IP, user agent or the visitor id
        answer["anonymous"] = True
    return answer


@router.post(
    "/identify",
    summary="Link a visitor to a known user",
    response_model=None,
    responses={200: {"model": wire.IdentifyOut}},
    openapi_extra=json_body(wire.IDENTIFY_BODY),
)
async def identify(request: Request, principal: Writer, body: RawBody, container: ContainerDep) -> dict[str, Any]:
    data = _json_object(body)
    parsed = _validate(IdentifyIn, data, container.clock.now())
    identity_id = _ingestor(principal, container).identify(
        parsed, idempotency_key=request.headers.get("idempotency-key") or None
    )
    return {"success": True, "identity_id": identity_id, "visitor_linked": parsed.visitor_id is not None}


def ingest_routers() -> list[APIRouter]:
    return [router]


def create_ingest_app() -> FastAPI:
    app = create_app("Multibuzz ingestion")
    install_batch_errors(app)
    for r in ingest_routers():
        app.include_router(r)
    return app


def install_batch_errors(app: FastAPI) -> None:
    @app.exception_handler(BatchValidationError)
    async def _batch(_: Request, exc: BatchValidationError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.errors), status_code=exc.status)
