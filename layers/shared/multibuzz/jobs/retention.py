"""Data retention: removes what the product promises not to keep forever (revoked keys, the consumer inbox,
and raw tracking data past each account's windows)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from multibuzz.bootstrap import Container
from multibuzz.db.models import ApiKey, ProcessedMessage
from multibuzz.jobs.registry import job
from multibuzz.privacy.retention import apply_raw_retention

REVOKED_KEY_RETENTION = timedelta(days=365)
# SQS keeps a message at most 14 days, so an inbox entry older than that can never meet a redelivery.
INBOX_RETENTION = timedelta(days=15)


@job("multibuzz.retention")
def apply_retention(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    now = container.clock.now()
    with container.session() as session:
        keys = session.execute(
            delete(ApiKey).where(ApiKey.revoked_at.is_not(None), ApiKey.revoked_at < now - REVOKED_KEY_RETENTION)
        )
        inbox = session.execute(delete(ProcessedMessage).where(ProcessedMessage.processed_at < now - INBOX_RETENTION))
        session.commit()
    # Raw tracking data past each account's windows (multibuzz.privacy.retention), in bounded batches.
    raw = apply_raw_retention(container.session_factory, now, batch_size=container.settings.retention_batch_size)
    return {
        "revoked_api_keys_deleted": int(keys.rowcount or 0),  # type: ignore[attr-defined]
        "inbox_entries_deleted": int(inbox.rowcount or 0),  # type: ignore[attr-defined]
        **raw.as_dict(),
    }
