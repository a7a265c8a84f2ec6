"""Exports: request any dataset (the API's own ``ExportRequest`` validates the form), follow its progress live
(htmx polls the export's status fragment until it is ready or failed) and download it through its URL.

The request goes through ``create_export`` — the very function behind ``POST /api/v1/exports`` — so the row,
the queue message and the refusal when the queue is down are the API's; the status is ``Exports.view``, the
answer of ``GET /api/v1/exports/{id}`` (a presigned download URL once ready).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from multibuzz.domain.attribution import MODELS
from multibuzz.exports.datasets import DATASETS
from multibuzz.exports.http import create_export, exports_dep
from multibuzz.exports.schemas import ExportRequest
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.web.dates import RANGES
from multibuzz.web.deps import Advertiser, Form, account_of, reader_of
from multibuzz.web.forms import checkbox, validated
from multibuzz.web.pages.common import date_range
from multibuzz.web.render import render

router = APIRouter(include_in_schema=False)
FINAL = ("ready", "failed", "expired")


@router.get("/app/exports", response_class=HTMLResponse)
def exports_page(request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    exports = exports_dep(session, container)
    assert actor.account_id is not None
    page, _next = exports.page(actor.account_id, 20, None)
    window = date_range(request, account_of(session, actor), container)
    return render(
        request,
        "exports.html",
        exports=[exports.view(e) for e in page],
        datasets=list(DATASETS),
        models=MODELS,
        window=window,
        ranges=RANGES,
        final=FINAL,
    )


@router.post("/app/exports", response_class=HTMLResponse)
def request_export(form: Form, actor: Advertiser, session: SessionDep, container: ContainerDep) -> Response:
    body = validated(
        ExportRequest,
        {
            "dataset": form.get("dataset", ""),
            "format": form.get("format", ""),
            "gzip": checkbox(form, "gzip"),
            "from": form.get("from", ""),
            "to": form.get("to", ""),
            "model": form.get("model", ""),
        },
    )
    created = create_export(body, reader_of(actor), exports_dep(session, container), container)
    return RedirectResponse(f"/app/exports/{created.id}", status_code=303)


@router.get("/app/exports/{export_id}", response_class=HTMLResponse)
def export_page(
    export_id: str, request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    exports = exports_dep(session, container)
    assert actor.account_id is not None
    export = exports.view(exports.get(actor.account_id, export_id))
    return render(request, "export.html", export=export, final=FINAL)


@router.get("/app/exports/{export_id}/status", response_class=HTMLResponse)
def export_status(
    export_id: str, request: Request, actor: Advertiser, session: SessionDep, container: ContainerDep
) -> Response:
    """The status fragment htmx swaps in every second until the export is ready or failed."""
    exports = exports_dep(session, container)
    assert actor.account_id is not None
    export = exports.view(exports.get(actor.account_id, export_id))
    return render(request, "partials/export_status.html", export=export, final=FINAL)
