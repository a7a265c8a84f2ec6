"""Request and response bodies of the export routes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from multibuzz.domain.attribution.types import ModelName
from multibuzz.exports.datasets import DATASETS

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BOUND_DESCRIPTION = (
    "A date (`2026-01-31`: that day in the account's time zone; `from` its start, `to` its end, inclusive) "
    "or an ISO-8601 date-time / epoch seconds (naive means UTC; `to` exclusive)."
)


def parse_bound(value: Any) -> date | datetime:
    from multibuzz.ingest.schemas import parse_timestamp

    if isinstance(value, str) and _DATE.match(value.strip()):
        return date.fromisoformat(value.strip())
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a date (2026-01-31), an ISO-8601 date-time or epoch seconds")
    moment = parse_timestamp(value)
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_range(start: date | datetime, end: date | datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[from, to)`` in UTC. A date is a day of the account's zone; a ``to`` date is included whole."""

    def instant(value: date | datetime, next_day: bool) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        day = value + timedelta(days=1) if next_day else value
        return datetime.combine(day, time(), zone).astimezone(UTC)

    return instant(start, False), instant(end, True)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dataset: str = Field(
        validation_alias=AliasChoices("dataset", "report"),
        description="What to export (`report` is accepted as another name, as the Python SDK sends it).",
        json_schema_extra={"enum": list(DATASETS)},
    )
    format: Literal["csv", "jsonl"] = "csv"
    gzip: bool = True
    from_: str | int = Field(alias="from", description=BOUND_DESCRIPTION)
    to: str | int = Field(description=BOUND_DESCRIPTION)
    model: ModelName | None = Field(
        default=None, description="attributions only: one model's credits (default: every model)"
    )

    @field_validator("dataset")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}")
        return value

    @field_validator("from_", "to")
    @classmethod
    def _bound(cls, value: str | int) -> str | int:
        parse_bound(value)
        return value


class ExportOut(BaseModel):
    id: str
    status: Literal["queued", "running", "ready", "failed", "expired"]
    dataset: str
    format: str
    gzip: bool
    from_: datetime = Field(serialization_alias="from", description="UTC, inclusive")
    to: datetime = Field(description="UTC, exclusive")
    model: str | None
    rows: int = Field(description="rows written so far (the total once ready)")
    bytes: int
    sha256: str | None = Field(description="of the stored object (as downloaded)")
    error: str | None = Field(description="why it failed, or the last attempt's error while it is retried")
    attempts: int
    key: str
    manifest_key: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="the object is deleted then (S3 lifecycle rule)")
    download_url: str | None = Field(default=None, description="presigned GET, once ready")
    manifest_url: str | None = None
    url_expires_at: datetime | None = None
    links: dict[str, str] = Field(default_factory=dict)


class ExportPage(BaseModel):
    data: list[ExportOut]
    next_cursor: str | None
