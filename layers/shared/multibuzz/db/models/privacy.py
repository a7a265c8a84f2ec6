"""Privacy requests (erasures, access requests): the audit trail, holding only a keyed hash of the subject."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id, JSONType, UTCDateTime


class PrivacyRequest(Base):
    """One erasure or access request. The subject itself is never stored: ``subject_hash`` is an HMAC
    (settings ``privacy_hash_key``) of (account, subject kind, normalised value), enough to tell that a
    later request names the same subject, not to recover it."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        Index("ix_privacy_requests_account_id_created_at", "account_id", "created_at"),
        Index("ix_privacy_requests_account_id_subject_hash", "account_id", "subject_hash"),
    )

    id: Mapped[str] = mapped_column(Id(), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # erasure | access
    subject_type: Mapped[str] = mapped_column(String(20))  # visitor_id | user_id | email
    subject_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | running | completed | failed
    requested_by: Mapped[str | None] = mapped_column(String(80), nullable=True)  # "user:usr_…" | "key:key_…"
    # Rows deleted or anonymised per table ({"events": {"deleted": 12}, "clicks": {"anonymised": 2}}).
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
