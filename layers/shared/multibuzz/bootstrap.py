"""Dependency wiring, in one place. Entrypoints ask ``get_container()`` for what they need.

Everything is built lazily on first use (never at import time) and cached for
the life of the process (a Lambda execution environment, or the local runner).
Tests install their own container with ``use_container``.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from multibuzz.adapters.objects.base import ObjectStore
from multibuzz.adapters.queue.base import QueuePublisher
from multibuzz.auth.crypto import SecretBox
from multibuzz.clock import Clock, SystemClock
from multibuzz.ids import IdGenerator, UlidGenerator
from multibuzz.settings import Settings, get_settings

if TYPE_CHECKING:  # sqlalchemy.orm costs ~40 ms of cold start; the redirect never needs it
    from sqlalchemy.orm import Session, sessionmaker

    from multibuzz.adapters.outbox import Outbox
    from multibuzz.auth.key_cache import KeyCache
    from multibuzz.ingest.ratelimit import SharedTokenBuckets
    from multibuzz.redirect.geoip import GeoResolver


class Container:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        ids: IdGenerator | None = None,
        queue: QueuePublisher | None = None,
        objects: ObjectStore | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.clock: Clock = clock or SystemClock()
        self.ids: IdGenerator = ids or UlidGenerator(self.clock)
        if queue is not None:
            self.__dict__["queue"] = queue
        if objects is not None:
            self.__dict__["objects"] = objects
        if engine is not None:
            self.__dict__["engine"] = engine

    @cached_property
    def engine(self) -> Engine:
        from multibuzz.db.engine import make_engine, url_from_secret

        url = self.settings.resolved_database_url
        if self.settings.database_secret_arn:
            secret = self.boto_client("secretsmanager").get_secret_value(SecretId=self.settings.database_secret_arn)
            url = url_from_secret(secret["SecretString"], self.settings.database_host, self.settings.database_name)
        return make_engine(url, pool_size=self.settings.database_pool_size)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        from multibuzz.db.engine import make_session_factory

        return make_session_factory(self.engine)

    @cached_property
    def local_queue(self) -> Any:
        from multibuzz import topology
        from multibuzz.adapters.queue.local import LocalQueue

        return LocalQueue(self.settings.resolved_queue_path, fifo_queues=topology.fifo_queue_names())

    @cached_property
    def queue(self) -> QueuePublisher:
        if self.settings.queue_backend == "sqs":
            from multibuzz.adapters.queue.sqs import SqsPublisher

            return SqsPublisher(lambda: self.boto_client("sqs"), self.settings.queue_url)
        if self.settings.uses_queue_journal:  # shipped into the local queue by `ship-clicks`
            from multibuzz import topology
            from multibuzz.adapters.queue.journal import JournalPublisher, queue_journal_directory

            return JournalPublisher(
                queue_journal_directory(self.settings.data_dir), fifo_queues=topology.fifo_queue_names()
            )
        from multibuzz.adapters.queue.group_commit import GroupCommitPublisher

        return GroupCommitPublisher(self.local_queue)  # concurrent requests share a transaction

    @cached_property
    def queue_admin(self) -> Any:
        """Depths, dead letters and redrive of the queues (multibuzz.adapters.queue.admin)."""
        from multibuzz.adapters.queue.admin import LocalQueueAdmin, SqsQueueAdmin

        if self.settings.queue_backend == "sqs":
            return SqsQueueAdmin(lambda: self.boto_client("sqs"), self.settings.queue_url, self.settings.dlq_url)
        return LocalQueueAdmin(self.local_queue)

    @cached_property
    def objects(self) -> ObjectStore:
        if self.settings.object_store == "s3":
            from multibuzz.adapters.objects.s3 import S3ObjectStore

            assert self.settings.exports_bucket is not None  # checked by Settings
            return S3ObjectStore(lambda: self.boto_client("s3"), self.settings.exports_bucket)
        from multibuzz.adapters.objects.local import LocalObjectStore

        return LocalObjectStore(
            self.settings.resolved_object_dir,
            self.settings.base_url,
            self.settings.encryption_key.get_secret_value().encode(),
        )

    @cached_property
    def geo_resolver(self) -> GeoResolver | None:
        """The offline IP → (country, city) lookup for clicks, when MULTIBUZZ_GEOIP_DATABASE is set."""
        if self.settings.geoip_database is None:
            return None
        from multibuzz.redirect.geoip import MmdbGeoResolver

        return MmdbGeoResolver(self.settings.geoip_database)

    @cached_property
    def outbox(self) -> Outbox:
        """Invitations and password resets to people: a JSON-lines file under the data dir (no mailer yet)."""
        from multibuzz.adapters.outbox import FileOutbox

        return FileOutbox(self.settings.data_dir / "outbox.jsonl")

    @cached_property
    def key_cache(self) -> KeyCache:
        """Verified API keys, for ``api_key_cache_seconds`` (see multibuzz.auth.key_cache for the bound)."""
        from multibuzz.auth.key_cache import KeyCache

        return KeyCache(self.settings.api_key_cache_seconds)

    @cached_property
    def rate_limiter(self) -> SharedTokenBuckets:
        """Per-API-key token buckets shared by every instance through the database, leased in blocks."""
        from multibuzz.ingest.ratelimit import SharedTokenBuckets

        return SharedTokenBuckets(self.engine)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.settings.encryption_key.get_secret_value())

    def boto_client(self, service: str) -> Any:
        import boto3

        kwargs: dict[str, Any] = {"region_name": self.settings.aws_region}
        if self.settings.aws_endpoint_url:
            kwargs["endpoint_url"] = self.settings.aws_endpoint_url
        if service == "s3":
            from multibuzz.adapters.objects.s3 import client_config

            kwargs["config"] = client_config()
        return boto3.session.Session().client(service, **kwargs)

    def session(self) -> Session:
        return self.session_factory()


_lock = threading.Lock()
_container: Container | None = None


def get_container() -> Container:
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = Container()
    return _container


def use_container(container: Container | None) -> None:
    """Install (or with None, forget) the process-wide container."""
    global _container
    with _lock:
        _container = container
