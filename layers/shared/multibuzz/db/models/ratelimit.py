"""The shared side of the per-API-key rate limit: one token bucket row per key (multibuzz.ingest.ratelimit)."""

from __future__ import annotations

from sqlalchemy import Double, Integer
from sqlalchemy.orm import Mapped, mapped_column

from multibuzz.db.base import Base, Id


class RateBucket(Base):
    """Tokens left for ``api_key_id`` at ``per_minute`` as of ``updated_at`` (epoch seconds); ``version``
    makes each lease a compare-and-set. No foreign key: a bucket outliving its key is harmless."""

    __tablename__ = "api_key_rate_buckets"

    api_key_id: Mapped[str] = mapped_column(Id(), primary_key=True)
    per_minute: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tokens: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    version: Mapped[int] = mapped_column(Integer)
