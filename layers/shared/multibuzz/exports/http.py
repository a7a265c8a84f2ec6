"""The exports function's routes: request, list and read exports; a small range of events as a streamed CSV.

Credentials (least privilege): a logged-in owner or member of the account (JWT), or an API key with the
opt-in ``read`` scope (the Python SDK's ``exports.create``/``download``). Ingest-only keys and influencer
logins are refused: an export is the whole account's raw data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, send_one
from multibuzz.consumers.envelope import dumps_envelope
from multibuzz.db.models import Account
from multibuzz.domain.timezones import zone
from multibuzz.errors import InvalidInputError, PermissionDeniedError, ServiceUnavailableError
from multibuzz.exports.datasets import EVENTS, ExportFilter
from multibuzz.exports.encoding import RowEncoder
from multibuzz.exports.schemas import (
    BOUND_DESCRIPTION,
    ExportOut,
    ExportPage,
    ExportRequest,
    parse_bound,
    resolve_range,
)
from multibuzz.exports.service import MAX_PAGE, MESSAGE_KIND, QUEUE, Exports, ExportSettings
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.http.openapi import ErrorBody
from multibuzz.http.params import Cursor
from multibuzz.http.readers import Reader, SdkReader

router = APIRouter(prefix="/api/v1", tags=["exports"])


def export_reader(reader: SdkReader) -> Reader:
    if reader.influencer_id is not None:
        raise PermissionDeniedError("influencer logins cannot export the account's data")
    return reader


ExportReader = Annotated[Reader, Depends(export_reader)]


def exports_dep(session: SessionDep, container: ContainerDep) -> Exports:
    settings = container.settings
    return Exports(
        session,
        container.clock,
        container.ids,
        container.objects,
        ExportSettings(settings.export_url_ttl_seconds, settings.export_retention_days),
    )


ExportsDep = Annotated[Exports, Depends(exports_dep)]
_UNAVAILABLE = {503: {"model": ErrorBody, "description": "The export queue is unavailable; nothing was queued."}}


@router.post(
    "/exports",
    status_code=202,
    response_model=ExportOut,
    responses=_UNAVAILABLE,  # type: ignore[arg-type]
    summary="Request an export: written in the background, then downloadable through a presigned URL",
)
def create_export(body: ExportRequest, reader: ExportReader, exports: ExportsDep, container: ContainerDep) -> ExportOut:
    export = exports.create(reader.account_id, body)
    exports.session.commit()  # the worker must find the row before it can get the message
    envelope = dumps_envelope(MESSAGE_KIND, export.id, export.account_id, {"dataset": export.dataset})
    try:
        send_one(container.queue, QUEUE, OutgoingMessage(envelope))
    except QueueUnavailableError:
        export.status = "failed"
        export.error = "the export queue was unavailable; request the export again"
        exports.session.commit()
        raise ServiceUnavailableError("the export queue is unavailable; try again shortly") from None
    return exports.view(export)


@router.get("/exports", response_model=ExportPage, summary="The account's exports, newest first")
def list_exports(
    reader: ExportReader,
    exports: ExportsDep,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> ExportPage:
    page, next_cursor = exports.page(reader.account_id, limit, cursor)
    return ExportPage(data=[exports.view(e) for e in page], next_cursor=next_cursor)


@router.get(
    "/exports/{export_id}",
    response_model=ExportOut,
    summary="An export: status, progress, and once ready a presigned download URL with its expiry",
)
def get_export(export_id: str, reader: ExportReader, exports: ExportsDep) -> ExportOut:
    return exports.view(exports.get(reader.account_id, export_id))


_CSV = {
    200: {
        "description": "The events as CSV (a header row, then one row per event, oldest first).",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/events/export.csv",
    response_class=StreamingResponse,
    responses=_CSV,  # type: ignore[arg-type]
    summary="A small range of raw events as a CSV answered at once (above the row cap: 422; use POST /exports)",
)
def events_csv(
    reader: ExportReader,
    session: SessionDep,
    container: ContainerDep,
    from_: Annotated[str, Query(alias="from", description=BOUND_DESCRIPTION)],
    to: Annotated[str, Query(description=BOUND_DESCRIPTION)],
) -> StreamingResponse:
    bounds = []
    for name, value in (("from", from_), ("to", to)):
        try:
            bounds.append(parse_bound(value))
        except ValueError as exc:
            raise InvalidInputError(f"{name} {exc}", field=name) from None
    account = session.get(Account, reader.account_id)
    start, end = resolve_range(bounds[0], bounds[1], zone(account.timezone if account else "UTC"))
    if end <= start:
        raise InvalidInputError("to must be after from", field="to")
    filters = ExportFilter(reader.account_id, start, end, as_of=container.clock.now())
    cap = container.settings.export_stream_max_rows
    count = int(session.execute(EVENTS.count(filters)).scalar_one())
    if count > cap:
        raise InvalidInputError(
            f"the range holds {count} events, more than {cap} (the cap of this route): narrow from/to, "
            "or request POST /api/v1/exports with dataset=events",
            field="to",
        )
    session.rollback()
    filename = f"events-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(
        _stream_events(container.engine, filters, cap),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"', "x-row-cap": str(cap)},
    )


def _stream_events(engine: Any, filters: ExportFilter, cap: int) -> Iterator[bytes]:
    """Its own connection: the request's session is closed before a streamed body is sent."""
    encoder = RowEncoder(EVENTS.columns, "csv", gzip=False)
    yield encoder.header()
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(EVENTS.query(filters).limit(cap))
        for partition in result.partitions():
            yield encoder.encode(partition)
