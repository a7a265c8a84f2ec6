"""Access requests: everything stored about a subject, as one JSON document.

The exports pipeline (#12) does not exist on this branch, so the document is built in the request and
returned in the response (the Shopify ``customers/data_request`` webhook calls :func:`access_document`
too). Only the audit record (keyed hash of the subject, row counts) is stored. Once exports land this
document becomes an export job's payload.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.privacy.erasure import new_request, resolve_subject
from multibuzz.privacy.registry import entries
from multibuzz.privacy.subjects import Subject, SubjectRef

MAX_ROWS_PER_TABLE = 100_000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def collect(session: Session, subject: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every registered table's rows of the subject, column by column (JSON-ready)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for entry in entries():
        condition = entry.match(subject)
        if condition is None:
            continue
        pk = list(entry.table.primary_key.columns)
        rows = session.execute(select(entry.table).where(condition).order_by(*pk).limit(MAX_ROWS_PER_TABLE)).mappings()
        found = [{key: _plain(value) for key, value in row.items()} for row in rows]
        if found:
            tables[entry.name] = found
    return tables


def access_document(container: Container, account_id: str, ref: SubjectRef, requested_by: str | None) -> dict[str, Any]:
    """Record the access request and return the document (also the service the Shopify
    ``customers/data_request`` webhook calls)."""
    with container.session() as session:
        record = new_request(session, container, account_id, "access", ref, requested_by)
        subject = resolve_subject(session, container, account_id, ref)
        tables = collect(session, subject)
        record.counts = {name: {"rows": len(rows)} for name, rows in tables.items()}
        record.status = "completed"
        record.completed_at = container.clock.now()
        session.commit()
        return {
            "id": record.id,
            "account_id": account_id,
            "subject_type": ref.type,
            "generated_at": record.completed_at.isoformat(),
            "counts": record.counts,
            "tables": tables,
        }
