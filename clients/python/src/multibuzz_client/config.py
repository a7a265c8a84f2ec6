"""Settings of the client, from ``configure(...)`` arguments or ``MULTIBUZZ_*`` environment variables.

Everything is validated here, at configure time, so a malformed key or URL is a clear
``ConfigurationError`` at start-up and never a surprise inside a request.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from multibuzz_client.errors import ConfigurationError

KEY_PATTERN = re.compile(r"^sk_(live|test)_[A-Za-z0-9]{32,64}$")
API_BATCH_LIMIT = 1000  # events per POST /api/v1/events (the server's limit)
MAX_BODY_BYTES = 900 * 1024  # the server refuses bodies over 1 MB; keep headroom
VISITOR_COOKIE = "_mbuzz_vid"
SESSION_COOKIE = "_mbuzz_sid"
VISITOR_MAX_AGE = 365 * 24 * 3600
SESSION_MAX_AGE = 30 * 60

FunnelDetector = Callable[[Any], "Mapping[str, Any] | None"]


@dataclass(frozen=True)
class Config:
    api_key: str
    api_url: str  # the deployment's root, e.g. https://track.example.com (``/api/v1`` is appended)
    timeout: float = 5.0
    enabled: bool = True
    debug: bool = False
    signing_secret: str | None = None
    sync: bool = False  # send in the calling thread (AWS Lambda, scripts, other short-lived processes)
    batch_size: int = API_BATCH_LIMIT
    max_queue: int = 10_000  # items held in memory at most (over all sender threads); then the oldest go
    senders: int = 4  # sender threads; one visitor's items always go through the same one, in order
    flush_interval: float = 0.5
    max_retries: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    flush_at_exit: bool = True
    cookie_domain: str | None = None
    session_timeout: int = SESSION_MAX_AGE
    excluded_paths: tuple[str, ...] = ()
    honor_privacy_signals: bool = False  # skip visitors sending Sec-GPC: 1 or DNT: 1
    trust_forwarded: bool = False  # read the scheme and client IP from X-Forwarded-* (behind a proxy)
    funnel_detector: FunnelDetector | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return self.api_url.rstrip("/") + "/api/v1"


def _env_bool(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None


def build_config(
    api_key: str | None = None,
    api_url: str | None = None,
    timeout: float | None = None,
    enabled: bool | None = None,
    debug: bool | None = None,
    *,
    signing_secret: str | None = None,
    excluded_paths: Iterable[str] = (),
    **options: Any,
) -> Config:
    """Arguments win over the environment (``MULTIBUZZ_API_KEY``, ``MULTIBUZZ_API_URL``, ``MULTIBUZZ_TIMEOUT``,
    ``MULTIBUZZ_ENABLED``, ``MULTIBUZZ_DEBUG``, ``MULTIBUZZ_SIGNING_SECRET``, ``MULTIBUZZ_SYNC``)."""
    unknown = set(options) - set(Config.__dataclass_fields__)
    if unknown:
        raise ConfigurationError(f"unknown option(s): {', '.join(sorted(unknown))}")
    enabled = enabled if enabled is not None else _env_bool("MULTIBUZZ_ENABLED")
    enabled = True if enabled is None else enabled
    key = api_key if api_key is not None else os.environ.get("MULTIBUZZ_API_KEY", "")
    url = api_url if api_url is not None else os.environ.get("MULTIBUZZ_API_URL", "")
    if enabled or key:
        if not key:
            raise ConfigurationError("api_key is required: pass configure(api_key=...) or set MULTIBUZZ_API_KEY")
        if not KEY_PATTERN.match(key.strip()):
            raise ConfigurationError(
                "api_key is malformed: it looks like sk_live_<32-64 letters/digits> or sk_test_<…>"
            )
        key = key.strip()
    if enabled or url:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                "api_url must be an http(s) URL such as https://track.example.com: pass configure(api_url=...) "
                "or set MULTIBUZZ_API_URL"
            )
        url = url.strip()
    if "sync" not in options and (sync := _env_bool("MULTIBUZZ_SYNC")) is not None:
        options["sync"] = sync
    secret = signing_secret if signing_secret is not None else os.environ.get("MULTIBUZZ_SIGNING_SECRET") or None
    timeout = timeout if timeout is not None else _env_float("MULTIBUZZ_TIMEOUT")
    debug = debug if debug is not None else _env_bool("MULTIBUZZ_DEBUG")
    config = Config(
        api_key=key,
        api_url=url,
        timeout=5.0 if timeout is None else timeout,
        enabled=enabled,
        debug=bool(debug),
        signing_secret=secret,
        excluded_paths=tuple(excluded_paths),
        **options,
    )
    _check(config)
    return config


def _check(config: Config) -> None:
    if config.timeout <= 0:
        raise ConfigurationError("timeout must be a positive number of seconds")
    if not 1 <= config.batch_size <= API_BATCH_LIMIT:
        raise ConfigurationError(f"batch_size must be between 1 and {API_BATCH_LIMIT} (the API's batch limit)")
    if not 1 <= config.senders <= 16:
        raise ConfigurationError("senders must be between 1 and 16")
    if config.max_queue < 1:
        raise ConfigurationError("max_queue must be at least 1")
    if config.flush_interval <= 0:
        raise ConfigurationError("flush_interval must be a positive number of seconds")
    if config.max_retries < 0 or config.backoff_base < 0 or config.backoff_cap < 0:
        raise ConfigurationError("max_retries, backoff_base and backoff_cap cannot be negative")
    if config.session_timeout < 60:
        raise ConfigurationError("session_timeout must be at least 60 seconds")
    if config.cookie_domain is not None and not re.fullmatch(r"\.?[A-Za-z0-9.-]+", config.cookie_domain):
        raise ConfigurationError("cookie_domain must be a host name such as .example.com")
    if any(not p.startswith("/") for p in config.excluded_paths):
        raise ConfigurationError("excluded_paths must start with /")
    if config.funnel_detector is not None and not callable(config.funnel_detector):
        raise ConfigurationError("funnel_detector must be callable: funnel_detector(request) -> dict | None")
