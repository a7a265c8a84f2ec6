"""The export worker: one queued export → rows streamed from a server-side cursor → the object store.

Constant memory: the cursor is read in partitions (``yield_per``; on MySQL an unbuffered ``SSCursor``),
each partition is encoded and compressed at once, and the bytes leave as a multipart upload part whenever
``part_size`` of them are buffered (S3: at least 5 MiB a part). Only then, a manifest beside the object.

At least once, exactly one result: each run is an attempt (``attempts`` is its fencing token: a row
update of an older attempt matches nothing). A run that finds the multipart upload of an earlier attempt
that never finished (a crash) aborts it and starts again from the first row. The query reads the same
rows in the same order (see ``datasets``), so the retried object is byte for byte the one the crashed
attempt would have written. Runs are bounded: the queue delivers a message ``max_receive_count`` times,
and the delivery after ``max_runs`` failed or crashed runs marks the export failed instead of running
again, so an export never stays "running" behind a dead-lettered message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from multibuzz import __version__, topology
from multibuzz.adapters.objects.base import ObjectStore, Upload
from multibuzz.clock import Clock
from multibuzz.db.models import Account, Export
from multibuzz.exports.datasets import DATASETS, Dataset, ExportFilter
from multibuzz.exports.encoding import GZIP_LEVEL, RowEncoder
from multibuzz.exports.service import MESSAGE_KIND, expiry
from multibuzz.observability import get_logger
from multibuzz.telemetry import metrics

if TYPE_CHECKING:
    from multibuzz.bootstrap import Container

logger = get_logger("exports")

BATCH_ROWS = 5000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


class ExportInputError(ValueError):
    """The export cannot succeed however often it is retried (an unknown dataset, say): fail at once."""


@dataclass(frozen=True)
class Claim:
    export_id: str
    attempt: int
    account_id: str
    dataset: Dataset
    format: str
    gzip: bool
    key: str
    manifest_key: str
    filters: ExportFilter


@dataclass
class ExportWorker:
    engine: Engine
    session_factory: sessionmaker[Session]
    objects: ObjectStore
    clock: Clock
    part_size: int = 8 * 1024 * 1024
    retention_days: int = 7
    max_runs: int = max(1, topology.queue("exports").max_receive_count - 1)
    batch_rows: int = BATCH_ROWS
    progress_every_rows: int = 50_000  # besides after each part: a gzip part holds ~300k rows

    @classmethod
    def from_container(cls, container: Container, **overrides: Any) -> ExportWorker:
        settings = container.settings
        values: dict[str, Any] = {
            "engine": container.engine,
            "session_factory": container.session_factory,
            "objects": container.objects,
            "clock": container.clock,
            "part_size": settings.export_part_size_mb * 1024 * 1024,
            "retention_days": settings.export_retention_days,
        }
        values.update(overrides)
        return cls(**values)

    # -- one run -----------------------------------------------------------------------------------------
    def run(self, export_id: str) -> None:
        """Write the export, or raise so the queue delivers the message again (partial batch failure)."""
        claim = self._claim(export_id)
        if claim is None:
            return
        upload: Upload | None = None
        began = self.clock.now()
        try:
            upload = self.objects.start_upload(claim.key, CONTENT_TYPES[claim.format])
            self._update(claim, upload_id=upload.upload_id)
            encoder, extra = self._stream(claim, upload)
            upload.complete()
            finished = self.clock.now()
            manifest = self._manifest(claim, encoder, extra, finished)
            self.objects.put(claim.manifest_key, manifest, "application/json")
            self._update(
                claim,
                status="ready",
                rows=encoder.rows,
                bytes=encoder.bytes,
                sha256=encoder.sha256,
                upload_id=None,
                error=None,
                finished_at=finished,
                expires_at=expiry(finished, self.retention_days),
            )
            logger.info("export ready", extra={"export_id": export_id, "rows": encoder.rows, "bytes": encoder.bytes})
            metrics.count(metrics.Metric.EXPORT_ROWS, encoder.rows)
            metrics.observe(metrics.Metric.EXPORT_DURATION, (finished - began).total_seconds() * 1000)
        except Exception as exc:
            logger.exception("export attempt failed", extra={"export_id": export_id, "attempt": claim.attempt})
            if upload is not None:
                try:
                    upload.abort()
                except Exception:  # the next run aborts it by its id, and the bucket's lifecycle rule at last
                    logger.warning("could not abort the upload", extra={"export_id": export_id}, exc_info=True)
            final = isinstance(exc, ExportInputError) or claim.attempt >= self.max_runs
            message = str(exc) if isinstance(exc, ExportInputError) else f"{type(exc).__name__} while writing"
            self._update(
                claim,
                status="failed" if final else "queued",
                error=f"attempt {claim.attempt} of {self.max_runs} failed: {message}",
                upload_id=None,
                finished_at=self.clock.now() if final else None,
            )
            if not final:
                raise

    def _claim(self, export_id: str) -> Claim | None:
        with self.session_factory() as session:
            export = session.get(Export, export_id, with_for_update=True)
            if export is None:
                logger.warning("no such export (deleted?)", extra={"export_id": export_id})
                return None
            if export.status in ("ready", "failed"):
                return None  # a redelivered message: already done
            if export.upload_id:  # an earlier attempt died mid-upload: start again from nothing
                self.objects.abort_upload(export.object_key, export.upload_id)
                export.upload_id = None
            if export.attempts >= self.max_runs:
                export.status = "failed"
                export.error = export.error or (
                    f"gave up after {export.attempts} attempts (the last stopped without finishing)"
                )
                export.finished_at = self.clock.now()
                session.commit()
                return None
            dataset = DATASETS.get(export.dataset)
            if dataset is None:
                export.status = "failed"
                export.error = f"unknown dataset {export.dataset!r}"
                session.commit()
                return None
            export.attempts += 1
            export.status = "running"
            export.started_at = self.clock.now()
            export.rows = export.bytes = 0
            claim = Claim(
                export_id=export.id,
                attempt=export.attempts,
                account_id=export.account_id,
                dataset=dataset,
                format=export.format,
                gzip=export.gzip,
                key=export.object_key,
                manifest_key=export.manifest_key,
                filters=ExportFilter(
                    account_id=export.account_id,
                    start=export.range_start,
                    end=export.range_end,
                    as_of=export.created_at,
                    model=export.model,
                    zone=session.scalar(select(Account.timezone).where(Account.id == export.account_id)) or "UTC",
                ),
            )
            session.commit()
            return claim

    def _update(self, claim: Claim, **values: Any) -> None:
        """Fenced by the attempt: a stale run (another took over) changes nothing."""
        with self.session_factory() as session:
            session.execute(
                update(Export)
                .where(Export.id == claim.export_id, Export.attempts == claim.attempt)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            session.commit()

    def _stream(self, claim: Claim, upload: Upload) -> tuple[RowEncoder, dict[str, Any]]:
        encoder = RowEncoder(claim.dataset.columns, claim.format, claim.gzip)
        buffer = bytearray(encoder.header())
        with self.engine.connect() as conn:
            extra = claim.dataset.manifest_extra(conn, claim.filters) if claim.dataset.manifest_extra else {}
            conn.rollback()
            if conn.dialect.name in ("mysql", "mariadb"):  # the server waits on us while parts upload
                conn.exec_driver_sql("SET SESSION net_write_timeout = 3600")
            streaming = conn.execution_options(stream_results=True, yield_per=self.batch_rows)
            result = streaming.execute(claim.dataset.query(claim.filters))
            reported = 0
            for partition in result.partitions():
                buffer += encoder.encode(partition)
                wrote = len(buffer) >= self.part_size
                if wrote:
                    upload.write_part(bytes(buffer))
                    buffer.clear()
                if wrote or encoder.rows - reported >= self.progress_every_rows:
                    self._update(claim, rows=encoder.rows, bytes=encoder.bytes)
                    reported = encoder.rows
            result.close()
        buffer += encoder.finish()
        upload.write_part(bytes(buffer))
        return encoder, extra

    def _manifest(self, claim: Claim, encoder: RowEncoder, extra: dict[str, Any], finished: datetime) -> bytes:
        f = claim.filters
        document = {
            "export_id": claim.export_id,
            "account_id": claim.account_id,
            "dataset": claim.dataset.name,
            "description": claim.dataset.description,
            "key": claim.key,
            "format": claim.format,
            "compression": "gzip" if claim.gzip else None,
            "gzip_level": GZIP_LEVEL if claim.gzip else None,
            "header_row": claim.format == "csv",
            "encoding": "utf-8",
            "row_count": encoder.rows,
            "bytes": encoder.bytes,
            "sha256": encoder.sha256,
            "filters": {
                "from": f.start.isoformat(),
                "to": f.end.isoformat(),
                "range": f"[from, to) on {claim.dataset.time_column}",
                "as_of": f.as_of.isoformat(),
                "model": f.model,
            },
            "columns": claim.dataset.schema(),
            "timestamps": "UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'",
            "attempt": claim.attempt,
            "finished_at": finished.isoformat(),
            "generator": f"multibuzz {__version__}",
            **extra,
        }
        return json.dumps(document, indent=2).encode()


# -- the queue consumer ------------------------------------------------------------------------------------
def handle_export_batch(event: dict[str, Any], context: Any, worker: ExportWorker | None = None) -> dict[str, Any]:
    """SQS batch → one run per record; a record whose run raised is reported for redelivery."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from multibuzz.bootstrap import get_container
    from multibuzz.consumers.envelope import Envelope
    from multibuzz.telemetry.invocation import invocation

    runner = worker or ExportWorker.from_container(get_container())

    def record_handler(record: SQSRecord) -> None:
        envelope = Envelope.loads(record.body)
        if envelope.kind != MESSAGE_KIND:
            raise ExportInputError(f"not an export message: {envelope.kind!r}")
        runner.run(envelope.id)

    processor = BatchProcessor(event_type=EventType.SQS)
    with invocation("exports", None, flush=True):
        return dict(
            process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
        )
