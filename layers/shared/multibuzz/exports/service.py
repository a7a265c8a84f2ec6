"""Exports as the HTTP side sees them: request one, list them, read one with its download URL."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.adapters.objects.base import ObjectStore
from multibuzz.clock import Clock
from multibuzz.db.models import Account, Export
from multibuzz.domain.timezones import zone
from multibuzz.errors import InvalidInputError, NotFoundError
from multibuzz.exports.datasets import DATASETS
from multibuzz.exports.schemas import ExportOut, ExportRequest, parse_bound, resolve_range
from multibuzz.ids import IdGenerator

QUEUE = "exports"
MESSAGE_KIND = "export.run"
MAX_PAGE = 100


def object_keys(account_id: str, dataset: str, export_id: str, day: str, fmt: str, gzip: bool) -> tuple[str, str]:
    """``exports/{account}/{dataset}/dt=YYYY-MM-DD/{export_id}.csv.gz`` and its manifest beside it.

    The manifest's name starts with ``_``: Athena (Hive) skips such files, so a table over the dataset's
    prefix reads only the data files."""
    prefix = f"exports/{account_id}/{dataset}/dt={day}"
    suffix = f".{fmt}" + (".gz" if gzip else "")
    return f"{prefix}/{export_id}{suffix}", f"{prefix}/_{export_id}.manifest.json"


@dataclass
class ExportSettings:
    url_ttl_seconds: int
    retention_days: int


class Exports:
    def __init__(
        self, session: Session, clock: Clock, ids: IdGenerator, objects: ObjectStore, settings: ExportSettings
    ) -> None:
        self.session = session
        self.clock = clock
        self.ids = ids
        self.objects = objects
        self.settings = settings

    def create(self, account_id: str, request: ExportRequest) -> Export:
        account = self.session.get(Account, account_id)
        if account is None:
            raise NotFoundError("account not found")
        account_zone = zone(account.timezone or "UTC")
        start, end = resolve_range(parse_bound(request.from_), parse_bound(request.to), account_zone)
        if end <= start:
            raise InvalidInputError("to must be after from", field="to")
        dataset = DATASETS[request.dataset]
        if request.model is not None and not dataset.uses_model:
            raise InvalidInputError(f"model applies to the attributions dataset, not {dataset.name}", field="model")
        now = self.clock.now()
        export_id = self.ids.new("exp")
        day = now.astimezone(account_zone).date().isoformat()
        key, manifest_key = object_keys(account_id, dataset.name, export_id, day, request.format, request.gzip)
        export = Export(
            id=export_id,
            account_id=account_id,
            dataset=dataset.name,
            format=request.format,
            gzip=request.gzip,
            range_start=start,
            range_end=end,
            model=request.model,
            status="queued",
            rows=0,
            bytes=0,
            object_key=key,
            manifest_key=manifest_key,
            attempts=0,
            columns=dataset.schema(),
            created_at=now,
        )
        self.session.add(export)
        self.session.flush()
        return export

    def get(self, account_id: str, export_id: str) -> Export:
        export = self.session.get(Export, export_id)
        if export is None or export.account_id != account_id:
            raise NotFoundError("export not found")
        return export

    def page(self, account_id: str, limit: int, cursor: str | None) -> tuple[list[Export], str | None]:
        query = select(Export).where(Export.account_id == account_id)
        if cursor:
            query = query.where(Export.id < _decode_cursor(cursor))
        rows = list(self.session.scalars(query.order_by(Export.id.desc()).limit(limit + 1)))
        page = rows[:limit]
        more = len(rows) > limit and page
        return page, (_encode_cursor(page[-1].id) if more else None)

    def view(self, export: Export) -> ExportOut:
        now = self.clock.now()
        status = export.status
        if status == "ready" and export.expires_at is not None and export.expires_at <= now:
            status = "expired"
        out = ExportOut(
            id=export.id,
            status=status,
            dataset=export.dataset,
            format=export.format,
            gzip=export.gzip,
            from_=export.range_start,
            to=export.range_end,
            model=export.model,
            rows=export.rows,
            bytes=export.bytes,
            sha256=export.sha256,
            error=export.error,
            attempts=export.attempts,
            key=export.object_key,
            manifest_key=export.manifest_key,
            created_at=export.created_at,
            started_at=export.started_at,
            finished_at=export.finished_at,
            expires_at=export.expires_at,
            links={"self": f"/api/v1/exports/{export.id}"},
        )
        if status == "ready":
            ttl = self.settings.url_ttl_seconds
            if export.expires_at is not None:  # a URL never outlives the object
                ttl = max(1, min(ttl, int((export.expires_at - now).total_seconds())))
            filename = export.object_key.rsplit("/", 1)[-1]
            out.download_url = self.objects.presigned_url(export.object_key, expires_in=ttl, filename=filename)
            out.manifest_url = self.objects.presigned_url(export.manifest_key, expires_in=ttl)
            out.url_expires_at = now + timedelta(seconds=ttl)
        return out


def _encode_cursor(export_id: str) -> str:
    return base64.urlsafe_b64encode(export_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInputError("cursor is not valid", field="cursor") from None
    if not value.startswith("exp_"):
        raise InvalidInputError("cursor is not valid", field="cursor")
    return value


def expiry(finished_at: datetime, retention_days: int) -> datetime:
    return finished_at + timedelta(days=retention_days)
