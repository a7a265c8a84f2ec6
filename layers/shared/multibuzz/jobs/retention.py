"""Data retention: removes what the product promises not to keep forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from multibuzz.bootstrap import Container
from multibuzz.db.models import ApiKey
from multibuzz.jobs.registry import job

REVOKED_KEY_RETENTION = timedelta(days=365)


@job("multibuzz.retention")
def apply_retention(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    cutoff = container.clock.now() - REVOKED_KEY_RETENTION
    with container.session() as session:
        result = session.execute(delete(ApiKey).where(ApiKey.revoked_at.is_not(None), ApiKey.revoked_at < cutoff))
        session.commit()
    return {"revoked_api_keys_deleted": int(result.rowcount or 0)}  # type: ignore[attr-defined]
