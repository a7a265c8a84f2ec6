"""Multibuzz for Python web apps: first-party visitor/session cookies, page views, events, conversions.

    import multibuzz_client as multibuzz
    multibuzz.configure(api_key="sk_live_…", api_url="https://track.example.com")
    multibuzz.track("add_to_cart", {"sku": "TEE-1"})   # inside a request: the current visitor

Tracking calls queue and return at once; a background thread delivers them. They never raise into
the app. ``attribution`` and ``exports`` are reads and raise ``ApiError`` on failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from multibuzz_client._version import __version__
from multibuzz_client.client import Client, Exports
from multibuzz_client.config import Config
from multibuzz_client.errors import ApiError, ConfigurationError, MultibuzzError
from multibuzz_client.web import RequestInfo, Visit, current_visit

__all__ = [
    "ApiError",
    "Client",
    "Config",
    "ConfigurationError",
    "MultibuzzError",
    "RequestInfo",
    "Visit",
    "__version__",
    "attribution",
    "configure",
    "conversion",
    "current_visit",
    "event",
    "exports",
    "flush",
    "get_client",
    "identify",
    "shutdown",
    "track",
]

logger = logging.getLogger("multibuzz_client")
logger.addHandler(logging.NullHandler())

_default: Client | None = None
_lock = threading.Lock()


def configure(
    api_key: str | None = None,
    api_url: str | None = None,
    timeout: float | None = None,
    enabled: bool | None = None,
    debug: bool | None = None,
    **options: Any,
) -> Client:
    """Build the default client (arguments, else ``MULTIBUZZ_*`` variables); raises ``ConfigurationError``."""
    global _default
    client = Client(api_key=api_key, api_url=api_url, timeout=timeout, enabled=enabled, debug=debug, **options)
    with _lock:
        previous, _default = _default, client
    if previous is not None:
        previous.shutdown(timeout=previous.config.timeout)
    return client


def get_client() -> Client | None:
    return _default


def _client(call: str) -> Client | None:
    if _default is None:
        logger.error("multibuzz.%s called before multibuzz_client.configure(); ignored", call)
    return _default


def _call(name: str, *args: Any, **kwargs: Any) -> str | None:
    """Tracking through the default client: never raises into the app (a wrong call is logged)."""
    client = _default or _client(name)
    if client is None:
        return None
    try:
        result: str | None = getattr(client, name)(*args, **kwargs)
        return result
    except Exception:
        logger.exception("multibuzz.%s: bad call; ignored", name)
        return None


def track(event_type: str, properties: Mapping[str, Any] | None = None, **kwargs: Any) -> str | None:
    """Queue an event for the current visitor (or ``visitor_id=``/``user_id=``); returns its event_id."""
    return _call("track", event_type, properties, **kwargs)


def identify(user_id: str, traits: Mapping[str, Any] | None = None, **kwargs: Any) -> str | None:
    """Link the current visitor (or ``visitor_id=``) to a known user."""
    return _call("identify", user_id, traits, **kwargs)


def conversion(
    conversion_type: str,
    revenue: Any = None,
    currency: str | None = None,
    properties: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> str | None:
    """Queue a conversion; returns its idempotency key (``idempotency_key=`` yours, e.g. the order id)."""
    return _call("conversion", conversion_type, revenue, currency, properties, **kwargs)


def event(
    action: str, value: Any = None, coupon_code: str | None = None, ref_code: str | None = None, **kwargs: Any
) -> str | None:
    """The unified event (purchase, add_to_cart, signup, drop_off, custom); returns its event_id."""
    return _call("event", action, value, coupon_code, ref_code, **kwargs)


def _required() -> Client:
    if _default is None:
        raise ConfigurationError("call multibuzz_client.configure() first")
    return _default


def attribution(conversion_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
    return _required().attribution(conversion_id, **kwargs)


class _DefaultExports:
    def __getattr__(self, name: str) -> Any:
        return getattr(_required().exports, name)


exports: Exports = _DefaultExports()  # type: ignore[assignment]


def flush(timeout: float | None = None) -> bool:
    return _default.flush(timeout) if _default is not None else True


def shutdown(timeout: float | None = None) -> None:
    if _default is not None:
        _default.shutdown(timeout)
