"""Typed settings, read from ``MULTIBUZZ_*`` environment variables and validated at cold start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Stage = Literal["local", "test", "dev", "prod"]

_DEV_JWT_SECRET = "local-development-only-jwt-secret-change-me"
_DEV_ENCRYPTION_KEY = "local-development-only-encryption-key"
_DEV_PRIVACY_KEY = "local-development-only-privacy-hash-key"


class Settings(BaseSettings):
    """Every knob Multibuzz has. Embedded defaults run the whole stack on one machine."""

    model_config = SettingsConfigDict(env_prefix="MULTIBUZZ_", extra="ignore", frozen=True)

    stage: Stage = "local"
    data_dir: Path = Path(".multibuzz")

    # Database: one SQLAlchemy URL. SQLite by default, MySQL/Aurora in production.
    database_url: str = ""
    database_pool_size: int = Field(default=5, ge=1, le=100)
    # On AWS the URL is assembled from a Secrets Manager secret (see multibuzz.db.engine).
    database_secret_arn: str | None = None
    database_host: str | None = None
    database_name: str = "multibuzz"

    # Queues: SQS in AWS, a durable SQLite-backed queue locally.
    queue_backend: Literal["local", "sqs"] = "local"
    local_queue_path: Path | None = None
    # Publishers append to a journal that the local shipper process moves into the local queue
    # (multibuzz.adapters.queue.journal). None: on for stage=local (``make serve``, which runs the shipper).
    local_queue_journal: bool | None = None
    queue_max_attempts: int = Field(default=5, ge=1, le=100)
    queue_backoff_seconds: float = Field(default=1.0, ge=0)
    ingest_queue_url: str | None = None
    clicks_queue_url: str | None = None
    webhooks_queue_url: str | None = None
    exports_queue_url: str | None = None
    privacy_queue_url: str | None = None
    sync_queue_url: str | None = None
    # Their dead-letter queues (SQS): read and re-driven by the admin routes (multibuzz.adapters.queue.admin).
    ingest_dlq_url: str | None = None
    clicks_dlq_url: str | None = None
    webhooks_dlq_url: str | None = None
    exports_dlq_url: str | None = None
    privacy_dlq_url: str | None = None
    sync_dlq_url: str | None = None

    # Object store for exports: S3 in AWS, a local folder otherwise.
    object_store: Literal["local", "s3"] = "local"
    local_object_dir: Path | None = None
    exports_bucket: str | None = None
    public_base_url: str = ""
    # Exports (multibuzz.exports): presigned URL life, how long an export is kept (the S3 lifecycle rule deletes
    # it then; CDK passes the same number), multipart part size, and the row cap of the streamed events CSV
    # (a Lambda answer is at most 6 MB).
    export_url_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    export_retention_days: int = Field(default=7, ge=1, le=365)
    export_part_size_mb: int = Field(default=8, ge=5, le=512)
    export_stream_max_rows: int = Field(default=10_000, ge=1, le=100_000)

    # Redirect clicks: an offline IP → country/city database (.mmdb), used when CloudFront's viewer
    # headers are absent (see multibuzz.redirect.geoip). None: no geo for such clicks.
    geoip_database: Path | None = None

    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None  # moto / localstack in tests

    # Auth
    jwt_secret: SecretStr = SecretStr(_DEV_JWT_SECRET)
    jwt_expiry_minutes: int = Field(default=30, ge=1, le=24 * 60)
    encryption_key: SecretStr = SecretStr(_DEV_ENCRYPTION_KEY)
    # Key of the HMACs that stand in for a data subject (privacy audit records, consent-less visitors):
    # the records can be matched against a later request for the same subject but never reversed.
    privacy_hash_key: SecretStr = SecretStr(_DEV_PRIVACY_KEY)
    # Retention deletes at most this many rows per statement (and commits after each): short locks on MySQL.
    retention_batch_size: int = Field(default=5000, ge=1, le=50_000)
    api_key_rate_limit_per_minute: int = Field(default=6000, ge=1)
    # Login throttling (state in the database, shared by every instance): failed logins per window.
    login_max_failures_per_email: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_ip: int = Field(default=30, ge=1, le=100000)
    login_throttle_window_seconds: int = Field(default=900, ge=1, le=86400)
    invitation_ttl_hours: int = Field(default=7 * 24, ge=1, le=90 * 24)
    password_reset_ttl_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # One-time tokens (invitations) in the inviter's answer as well as the outbox; None: only local/test.
    show_invitation_tokens: bool | None = None
    # A verified API key is trusted this long per process; revocation elsewhere takes effect within it
    # (multibuzz.auth.key_cache). 0: every request asks the database.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # A conversion may name a visitor whose first hits are still in the ingest queue: look again for this long.
    conversion_lookup_grace_seconds: float = Field(default=2.0, ge=0, le=10)
    conversion_max_wait_seconds: float = Field(default=10.0, ge=0, le=10)  # ?wait is 0-10 s; this may lower it

    # Shopify (a public/custom app): OAuth client id and secret (the secret also signs webhooks), scopes,
    # Admin API version, and where a shop's Admin API lives ({shop} = the myshopify.com domain; the tests
    # and the demo point it at the fake).
    shopify_api_key: str = ""
    shopify_api_secret: SecretStr = SecretStr("")
    shopify_scopes: str = "read_orders,read_customers"
    shopify_api_version: str = "2025-01"
    shopify_base_url: str = "https://{shop}"
    # A 7-day fill above this many orders uses a bulk operation; below it, paginated queries.
    shopify_bulk_threshold: int = Field(default=2500, ge=0)
    shopify_page_size: int = Field(default=250, ge=1, le=250)
    # Meta Marketing API (ad spend). The Graph URL is overridable so tests and the demo use the fake.
    meta_app_id: str | None = None
    meta_app_secret: SecretStr | None = None  # when set, every call carries appsecret_proof
    meta_graph_url: str = "https://graph.facebook.com/v21.0"
    meta_attribution_window_days: int = Field(default=28, ge=1, le=90)  # meta_fresh re-fetches this many days
    meta_fresh_interval_hours: float = Field(default=6.0, ge=0, le=48)  # scheduled fresh syncs at most this often
    meta_fill_days: int = Field(default=7, ge=1, le=1095)  # meta_7d_fill on first connect
    meta_async_min_days: int = Field(default=8, ge=1, le=1095)  # longer requests use an async report run
    meta_page_size: int = Field(default=500, ge=1, le=5000)
    meta_max_retries: int = Field(default=6, ge=0, le=20)  # throttled calls retried with backoff, then resumed later
    meta_backoff_base_seconds: float = Field(default=2.0, ge=0, le=300)
    meta_backoff_max_seconds: float = Field(default=120.0, ge=0, le=900)
    meta_request_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Reports: the consumer rebuilds the local days its messages touched right after each commit. Off: days
    # only become stale, and ``python -m multibuzz.reports refresh`` (or a later message) rebuilds them.
    reports_refresh_in_consumer: bool = True
    # The consumer leaves a day it rebuilt less than this many seconds ago to the next message or the
    # one-minute ``reports-refresh`` schedule: a busy account's today (whose rebuild reads the whole day) is
    # rebuilt at most this often instead of after every batch. 0: after every batch (the tests).
    reports_refresh_min_seconds: float = Field(default=10.0, ge=0, le=3600)

    # Local runner
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    demo_api_key: SecretStr | None = None
    demo_admin_email: str = "admin@multibuzz.local"
    demo_admin_password: SecretStr | None = None
    run_schedules: bool = True
    # `make serve` demo: a fake Shopify store with a week of orders, connected to the demo account.
    demo_shopify: bool = False
    # `make serve` demo data (once per database, in the background once the server answers): generated
    # journeys sent through the ingestion API with the demo key, influencer clicks and coupon sales, the
    # fake store (as demo_shopify) and a fake Meta ad account with its spend filled. False: none of it.
    demo_data: bool = True
    demo_days: int = Field(default=30, ge=1, le=90)
    demo_visitors_per_day: int = Field(default=20, ge=1, le=1000)
    demo_seed: int = 13
    # Consumer threads per queue in the local runner (FIFO groups still go one message at a time).
    local_consumer_threads: int = Field(default=2, ge=1, le=16)
    # Messages per invocation of the ingest consumer in the local runner. SQS hands a FIFO consumer at most 10,
    # and on AWS Lambda's concurrency across message groups is what keeps up with ingestion; the local runner
    # is one process, so it hands the same handler bigger batches to spread its fixed cost per batch
    # (infra.local.dispatch.local_batch_size).
    local_ingest_batch_size: int = Field(default=100, ge=1, le=1000)
    # Metrics (EMF): the HTTP functions flush their in-memory counters at the end of an invocation once this
    # many seconds have passed since the last flush (consumers and jobs flush every batch / run).
    metrics_flush_seconds: float = Field(default=10.0, ge=0, le=300)

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.stage in ("dev", "prod"):
            problems = []
            if self.jwt_secret.get_secret_value() == _DEV_JWT_SECRET:
                problems.append("MULTIBUZZ_JWT_SECRET must be set outside local/test")
            if self.encryption_key.get_secret_value() == _DEV_ENCRYPTION_KEY:
                problems.append("MULTIBUZZ_ENCRYPTION_KEY must be set outside local/test")
            if self.privacy_hash_key.get_secret_value() == _DEV_PRIVACY_KEY:
                problems.append("MULTIBUZZ_PRIVACY_HASH_KEY must be set outside local/test")
            if self.queue_backend != "sqs":
                problems.append("MULTIBUZZ_QUEUE_BACKEND must be 'sqs' outside local/test")
            if problems:
                raise ValueError("; ".join(problems))
        if self.queue_backend == "sqs":
            missing = [
                name
                for name in (
                    "ingest_queue_url",
                    "clicks_queue_url",
                    "webhooks_queue_url",
                    "exports_queue_url",
                    "privacy_queue_url",
                    "sync_queue_url",
                )
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"queue_backend=sqs needs {', '.join('MULTIBUZZ_' + m.upper() for m in missing)}")
        if self.demo_api_key is not None and self.demo_api_key.get_secret_value():
            from multibuzz.auth.api_keys import KEY_PATTERN

            if not KEY_PATTERN.match(self.demo_api_key.get_secret_value()):
                raise ValueError("MULTIBUZZ_DEMO_API_KEY must look like sk_live_<32-64 letters/digits> or sk_test_<…>")
        if self.geoip_database is not None and not self.geoip_database.is_file():
            raise ValueError(f"MULTIBUZZ_GEOIP_DATABASE: no such file: {self.geoip_database}")
        if self.object_store == "s3" and not self.exports_bucket:
            raise ValueError("object_store=s3 needs MULTIBUZZ_EXPORTS_BUCKET")
        return self

    # Derived values -----------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'multibuzz.db').as_posix()}"

    @property
    def uses_queue_journal(self) -> bool:
        journal = self.stage == "local" if self.local_queue_journal is None else self.local_queue_journal
        return self.queue_backend == "local" and journal

    @property
    def resolved_queue_path(self) -> Path:
        return self.local_queue_path or self.data_dir / "queue.db"

    @property
    def resolved_object_dir(self) -> Path:
        return self.local_object_dir or self.data_dir / "objects"

    @property
    def invitation_tokens_in_responses(self) -> bool:
        if self.show_invitation_tokens is not None:
            return self.show_invitation_tokens
        return self.stage in ("local", "test")

    @property
    def base_url(self) -> str:
        return self.public_base_url or f"http://{self.host}:{self.port}"

    def queue_url(self, queue: str) -> str:
        url = getattr(self, f"{queue}_queue_url", None)
        if not url:
            raise KeyError(f"no URL configured for queue {queue!r}")
        return str(url)

    def dlq_url(self, queue: str) -> str:
        url = getattr(self, f"{queue}_dlq_url", None)
        if not url:
            raise KeyError(f"no dead-letter queue URL configured for queue {queue!r}")
        return str(url)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once (at cold start, on first use)."""
    return Settings()
