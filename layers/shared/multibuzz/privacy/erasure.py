"""Erasure: a subject's rows in one account deleted or irreversibly anonymised, by a queued job.

``request_erasure`` stores the audit record (keyed hash of the subject only) and queues the job; the
subject travels only in the queue message. ``run_erasure`` (the ``privacy`` queue's consumer) walks
:mod:`.registry` table by table in bounded batches, each batch committed together with the audit
record's counts, so a crash loses nothing: the redelivered message resolves the subject again (its
visitors and identities, which tie it together, are erased last, in the transaction that completes
the record) and carries on. A completed request's message is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from multibuzz.adapters.queue.base import OutgoingMessage, send_one
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.db.models import Account, PrivacyRequest
from multibuzz.observability import get_logger
from multibuzz.privacy.registry import TableEntry, entries
from multibuzz.privacy.subjects import Subject, SubjectRef, resolve, subject_hash

logger = get_logger()

KIND = "privacy.erase"
QUEUE = "privacy"
BATCH_ROWS = 5000

#: Called between batches (tests stop a run half-way here to prove a re-run completes it).
AfterBatch = Callable[[str, int], None]


def new_request(
    session: Session, container: Container, account_id: str, kind: str, ref: SubjectRef, requested_by: str | None
) -> PrivacyRequest:
    record = PrivacyRequest(
        id=container.ids.new("era" if kind == "erasure" else "acr"),
        account_id=account_id,
        kind=kind,
        subject_type=ref.type,
        subject_hash=subject_hash(
            container.settings.privacy_hash_key.get_secret_value(), account_id, ref.type, ref.value
        ),
        status="pending",
        requested_by=requested_by,
        counts={},
        attempts=0,
        created_at=container.clock.now(),
    )
    session.add(record)
    session.flush()
    return record


def enqueue(container: Container, record: PrivacyRequest, ref: SubjectRef) -> None:
    envelope = Envelope(kind=KIND, id=record.id, account_id=record.account_id, payload={"subject": ref.as_message()})
    send_one(container.queue, QUEUE, OutgoingMessage(envelope.dumps(), dedup_id=record.id))


def request_erasure(container: Container, account_id: str, ref: SubjectRef, requested_by: str | None) -> str:
    """The service the API and the Shopify ``customers/redact`` / ``shop/redact`` webhooks call: records
    the request, queues the job, returns the request id (``era_…``). Commits."""
    with container.session() as session:
        record = new_request(session, container, account_id, "erasure", ref, requested_by)
        session.commit()
        request_id = record.id
        enqueue(container, record, ref)
    return request_id


def _server_secret(container: Container) -> str:
    return container.settings.encryption_key.get_secret_value()


def resolve_subject(session: Session, container: Container, account_id: str, ref: SubjectRef) -> Subject:
    settings = session.scalar(select(Account.settings).where(Account.id == account_id)) or {}
    mode = settings.get("ip_privacy")
    return resolve(session, account_id, ref, _server_secret(container), mode if isinstance(mode, str) else None)


def _add_count(record: PrivacyRequest, table: str, action: str, n: int) -> None:
    counts = {k: dict(v) for k, v in (record.counts or {}).items()}
    per_table = counts.setdefault(table, {})
    per_table[action] = int(per_table.get(action, 0)) + n
    record.counts = counts


def _erase_batch(session: Session, entry: TableEntry, subject: Subject, limit: int | None) -> int:
    """Erase up to ``limit`` (None: all) matching rows of one table. Returns how many."""
    condition = entry.match(subject)
    if condition is None:
        return 0
    table = entry.table
    pk = list(table.primary_key.columns)
    columns = list(table.columns) if entry.action == "anonymise" else pk
    query = select(*columns).where(condition).order_by(*pk)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).mappings().all()
    if not rows:
        return 0
    if entry.action == "delete":
        if len(pk) == 1:
            where = pk[0].in_([r[pk[0].name] for r in rows])
        else:
            where = tuple_(*pk).in_([tuple(r[c.name] for c in pk) for r in rows])
        session.execute(delete(table).where(where))
        return len(rows)
    assert entry.anonymise is not None
    for row in rows:
        values = entry.anonymise(dict(row))
        session.execute(update(table).where(*(c == row[c.name] for c in pk)).values(**values))
    return len(rows)


def run_erasure(
    container: Container, request_id: str, ref: SubjectRef, *, after_batch: AfterBatch | None = None
) -> dict[str, Any]:
    """Run (or finish) one erasure. Idempotent: a completed request is left as it is."""
    with container.session() as session:
        record = session.get(PrivacyRequest, request_id)
        if record is None or record.kind != "erasure":
            logger.warning("erasure message for an unknown request dropped", extra={"request_id": request_id})
            return {}
        if record.status == "completed":
            return dict(record.counts or {})
        account_id = record.account_id
        record.status = "running"
        record.attempts = (record.attempts or 0) + 1
        session.commit()
    with container.session() as session:
        subject = resolve_subject(session, container, account_id, ref)
    for entry in entries():
        if entry.final:
            continue
        while True:
            with container.session() as session:
                n = _erase_batch(session, entry, subject, BATCH_ROWS)
                if not n:
                    break
                record = session.get(PrivacyRequest, request_id, with_for_update=True)
                assert record is not None
                _add_count(record, entry.name, "deleted" if entry.action == "delete" else "anonymised", n)
                session.commit()
            if after_batch is not None:
                after_batch(entry.name, n)
    with container.session() as session:
        record = session.get(PrivacyRequest, request_id, with_for_update=True)
        assert record is not None
        for entry in entries():
            if entry.final:
                n = _erase_batch(session, entry, subject, None)
                if n:
                    _add_count(record, entry.name, "deleted" if entry.action == "delete" else "anonymised", n)
        record.status = "completed"
        record.completed_at = container.clock.now()
        session.commit()
        counts = dict(record.counts or {})
    logger.info("erasure completed", extra={"request_id": request_id, "account_id": account_id, "counts": counts})
    return counts
