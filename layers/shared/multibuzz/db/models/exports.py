"""Exports: one row per requested export (dataset, range, format) and its progress, object keys and expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, JSONType, UTCDateTime


class Export(Base):
    """``status``: queued → running → ready | failed. ``upload_id`` is the multipart upload in flight (a retry
    after a crash aborts it before starting again); ``rows`` is the progress while running, the count when ready."""

    __tablename__ = "exports"
    __table_args__ = (Index("ix_exports_account_id_created_at", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    dataset: Mapped[str] = mapped_column(String(40))
    format: Mapped[str] = mapped_column(String(10))
    gzip: Mapped[bool] = mapped_column(Boolean, default=True)
    range_start: Mapped[datetime] = mapped_column(UTCDateTime())
    range_end: Mapped[datetime] = mapped_column(UTCDateTime())
    model: Mapped[str | None] = mapped_column(String(30), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    object_key: Mapped[str] = mapped_column(String(255))
    manifest_key: Mapped[str] = mapped_column(String(255))
    upload_id: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    columns: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
