"""The one list of what Multibuzz is made of: functions, HTTP routes, queues and schedules.

The local runner (infra/local) wires exactly this, and the CDK app (infra/cdk)
deploys exactly this; a parity test checks the synthesized template against it.
Route keys use API Gateway HTTP API syntax (``{param}``, greedy ``{proxy+}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QueueSpec:
    name: str
    fifo: bool = False
    visibility_timeout_seconds: int = 60
    max_receive_count: int = 5
    retention_days: int = 4


@dataclass(frozen=True)
class ConsumerSpec:
    queue: str
    batch_size: int
    max_batching_window_seconds: int = 0


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    expression: str  # EventBridge "rate(N minutes|hours|days)"
    detail_type: str
    description: str


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    description: str
    memory_mb: int
    timeout_seconds: int
    routes: tuple[str, ...] = ()  # "METHOD /path"
    consumes: tuple[ConsumerSpec, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    reserved_concurrency: int | None = None
    publishes: tuple[str, ...] = field(default_factory=tuple)
    uses_database: bool = True
    uses_bucket: bool = False
    # Reads every queue's depth and its dead letters, and re-drives them (the admin routes).
    operates_queues: bool = False

    @property
    def handler_module(self) -> str:
        return f"functions.{self.name}.handler"


# Visibility timeouts follow AWS's guidance for Lambda event sources: at least 6x the consumer's timeout.
QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("ingest", fifo=True, visibility_timeout_seconds=720),
    QueueSpec("clicks", visibility_timeout_seconds=720),
    QueueSpec("webhooks", visibility_timeout_seconds=120),
    QueueSpec("exports", visibility_timeout_seconds=1800, max_receive_count=3),
    # Erasure jobs (multibuzz.privacy): one subject per message; a crashed run is redelivered and completes.
    QueueSpec("privacy", visibility_timeout_seconds=720, retention_days=14),
    # One message per sync run (schedules fan out per integration, manual syncs, first fill on connect).
    QueueSpec("sync", visibility_timeout_seconds=5400, max_receive_count=3),
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        "redirect",
        "Tracking-link redirect: cached lookup, 302, click to the clicks queue",
        memory_mb=512,
        timeout_seconds=5,
        routes=("GET /r/{code}", "HEAD /r/{code}"),
        publishes=("clicks",),
    ),
    FunctionSpec(
        "events",
        "Ingestion API: validate, authenticate, enqueue",
        memory_mb=512,
        timeout_seconds=15,
        routes=(
            "GET /api/v1/validate",
            "POST /api/v1/sessions",
            "POST /api/v1/events",
            "POST /api/v1/identify",
            "POST /api/v1/conversions",
            "POST /api/v1/event/{action}",
        ),
        publishes=("ingest",),
    ),
    FunctionSpec(
        "attribution",
        "Queue consumer: sessions, events, identities, conversions, clicks, privacy erasures",
        memory_mb=1024,
        timeout_seconds=120,
        consumes=(
            ConsumerSpec("ingest", batch_size=10),
            ConsumerSpec("clicks", 100, 5),
            ConsumerSpec("privacy", batch_size=1),
        ),
        reserved_concurrency=20,
    ),
    FunctionSpec(
        "webhooks",
        "Shopify webhooks: verify HMAC, enqueue",
        memory_mb=256,
        timeout_seconds=10,
        routes=("POST /webhooks/shopify/{topic+}",),
        consumes=(ConsumerSpec("webhooks", batch_size=10, max_batching_window_seconds=2),),
        publishes=("webhooks", "ingest"),
    ),
    FunctionSpec(
        "sync",
        "Scheduled syncs: Shopify orders, Meta insights, aggregates, model refits, retention",
        memory_mb=1024,
        timeout_seconds=900,
        schedules=(
            ScheduleSpec("model-refit", "rate(1 day)", "multibuzz.refit_models", "Refit Markov/Shapley models"),
            ScheduleSpec("retention", "rate(1 day)", "multibuzz.retention", "Apply data retention"),
            ScheduleSpec(
                "shopify-fresh",
                "rate(15 minutes)",
                "multibuzz.shopify_fresh",
                "Shopify orders updated since the cursor",
            ),
            ScheduleSpec(
                "meta-sync",
                "rate(1 hour)",
                "multibuzz.meta_sync",
                "Meta insights: first fill, then fresh every few hours",
            ),
            ScheduleSpec(
                "reports-refresh", "rate(1 minute)", "multibuzz.reports_refresh", "Rebuild stale report rollup days"
            ),
            ScheduleSpec(
                "watchdog", "rate(15 minutes)", "multibuzz.watchdog", "Business signals: accounts gone silent"
            ),
        ),
        consumes=(ConsumerSpec("sync", batch_size=1),),
        publishes=("sync", "ingest"),
        reserved_concurrency=2,
    ),
    FunctionSpec(
        "exports",
        "Report exports to the object store with presigned download URLs",
        memory_mb=1024,
        timeout_seconds=300,
        routes=(
            "POST /api/v1/exports",
            "GET /api/v1/exports",
            "GET /api/v1/exports/{export_id}",
            "GET /api/v1/events/export.csv",
        ),
        consumes=(ConsumerSpec("exports", batch_size=1),),
        publishes=("exports",),
        uses_bucket=True,
    ),
    FunctionSpec(
        "api",
        "Management and reporting API (FastAPI)",
        memory_mb=1024,
        timeout_seconds=30,
        routes=("GET /api/health-lite", "ANY /api/v1/{proxy+}"),
        publishes=("privacy", "sync"),
        operates_queues=True,
    ),
    FunctionSpec(
        "web",
        "Web app: server-rendered pages behind login, the public home page, hashed static assets",
        memory_mb=1024,
        timeout_seconds=30,
        routes=("GET /", "GET /app", "ANY /app/{proxy+}", "GET /static/{proxy+}"),
        # The pages act through the API's functions: an export request (exports queue, presigned download URLs
        # of the bucket), a manual sync or a first fill on connect (sync queue), the admin DLQ redrive.
        publishes=("exports", "sync"),
        uses_bucket=True,
        operates_queues=True,
    ),
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def queue(name: str) -> QueueSpec:
    for spec in QUEUES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def fifo_queue_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in QUEUES if spec.fifo)


def all_routes() -> list[tuple[str, str]]:
    """(route key, function name) for every HTTP route."""
    return [(route, spec.name) for spec in FUNCTIONS for route in spec.routes]


def rate_seconds(expression: str) -> int:
    """Seconds between runs for an EventBridge ``rate(...)`` expression."""
    if not (expression.startswith("rate(") and expression.endswith(")")):
        raise ValueError(f"only rate() expressions are used: {expression!r}")
    amount_text, unit = expression[5:-1].split()
    amount = int(amount_text)
    factor = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit]
    return amount * factor
