"""Deployment configuration: the stage and its knobs, read from CDK context (``-c key=value`` or cdk.json)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Stage = Literal["dev", "prod"]
STAGES: tuple[Stage, ...] = ("dev", "prod")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class StageConfig:
    """Everything that differs between dev and prod. Secrets never live here."""

    stage: Stage
    nat_gateways: int
    db_min_acu: float
    db_max_acu: float
    db_readers: int
    db_backup_days: int
    deletion_protection: bool
    use_proxy: bool
    interface_endpoints: bool
    cloudfront: bool
    reserved_concurrency: bool
    log_retention_days: int
    export_expiry_days: int
    api_rate_limit: int
    api_burst_limit: int
    alarm_email: str | None = None
    public_base_url: str | None = None

    @property
    def prefix(self) -> str:
        return f"multibuzz-{self.stage}"


DEFAULTS: dict[Stage, StageConfig] = {
    "dev": StageConfig(
        stage="dev",
        nat_gateways=1,
        db_min_acu=0.5,
        db_max_acu=4,
        db_readers=0,
        db_backup_days=3,
        deletion_protection=False,
        use_proxy=True,
        interface_endpoints=False,
        cloudfront=False,
        reserved_concurrency=True,
        log_retention_days=14,
        export_expiry_days=3,
        api_rate_limit=200,
        api_burst_limit=400,
    ),
    "prod": StageConfig(
        stage="prod",
        nat_gateways=2,
        db_min_acu=0.5,
        db_max_acu=16,
        db_readers=1,
        db_backup_days=14,
        deletion_protection=True,
        use_proxy=True,
        interface_endpoints=True,
        cloudfront=True,
        reserved_concurrency=True,
        log_retention_days=90,
        export_expiry_days=7,
        api_rate_limit=2000,
        api_burst_limit=5000,
    ),
}

# Context keys that override a stage default, and how to parse them.
_BOOL_KEYS = ("use_proxy", "interface_endpoints", "cloudfront", "reserved_concurrency", "deletion_protection")
_INT_KEYS = (
    "nat_gateways",
    "db_readers",
    "log_retention_days",
    "export_expiry_days",
    "api_rate_limit",
    "api_burst_limit",
)
_FLOAT_KEYS = ("db_min_acu", "db_max_acu")
_STR_KEYS = ("alarm_email", "public_base_url")


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"context {key!r} must be true or false, not {value!r}")


def config_from_context(get: Any) -> StageConfig:
    """Build the config from a context getter (``node.try_get_context``); unknown stages are refused."""
    stage = str(get("stage") or "dev")
    if stage not in STAGES:
        raise ValueError(f"context 'stage' must be one of {', '.join(STAGES)}, not {stage!r}")
    config = DEFAULTS[stage]
    changes: dict[str, Any] = {}
    for key in _BOOL_KEYS:
        if (value := get(key)) is not None:
            changes[key] = _as_bool(key, value)
    for key in _INT_KEYS:
        if (value := get(key)) is not None:
            changes[key] = int(value)
    for key in _FLOAT_KEYS:
        if (value := get(key)) is not None:
            changes[key] = float(value)
    for key in _STR_KEYS:
        if (value := get(key)) not in (None, ""):
            changes[key] = str(value)
    return replace(config, **changes)
