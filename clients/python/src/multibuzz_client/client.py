"""The SDK: tracking calls that queue and never raise, and read wrappers (attribution, exports)."""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from multibuzz_client.config import Config, build_config
from multibuzz_client.errors import ApiError
from multibuzz_client.sender import CONVERSION, EVENT, IDENTIFY, SESSION, UNIFIED, Sender
from multibuzz_client.transport import Response, Transport, dumps
from multibuzz_client.web import Tracker, Visit, current_visit

logger = logging.getLogger("multibuzz_client")

UNIFIED_ACTIONS = ("purchase", "add_to_cart", "signup", "drop_off", "custom")
MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "participation",
    "markov",
    "shapley",
)

_prefix = os.urandom(8).hex()
_counter = itertools.count(1)


def client_event_id() -> str:
    """A unique id per event (the server's idempotency key for it): per-process random prefix + counter."""
    return f"mbc_{_prefix}{next(_counter):x}"


def _number(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError(f"{name} must be a number")
    return str(value)


class Client:
    """One configured client. The module-level functions use a default one (``configure``)."""

    def __init__(self, config: Config | None = None, **options: Any) -> None:
        self.config = config if config is not None else build_config(**options)
        if self.config.debug:
            logger.setLevel(logging.DEBUG)
        self.sender = Sender(self.config)
        self.tracker = Tracker(self)
        self.exports = Exports(self)

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def stats(self) -> dict[str, int]:
        return self.sender.stats.as_dict()

    def flush(self, timeout: float | None = None) -> bool:
        return self.sender.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        self.sender.shutdown(timeout)

    # -- tracking: queue, never raise -------------------------------------------------------
    def track(
        self,
        event_type: str,
        properties: Mapping[str, Any] | None = None,
        *,
        visitor_id: str | None = None,
        user_id: str | None = None,
        timestamp: float | datetime | None = None,
        event_id: str | None = None,
        _visit: Visit | None = None,
    ) -> str | None:
        """Queue an event; returns its ``event_id`` (None when it was not queued; the reason is logged)."""
        if not self.config.enabled:
            return None
        try:
            visit = _visit if _visit is not None else current_visit()
            if visitor_id is None and user_id is None and visit is not None:
                visitor_id = visit.visitor_id
            if not event_type or not isinstance(event_type, str):
                logger.error("multibuzz.track: event_type must be a non-empty string, got %r", event_type)
                return None
            if visitor_id is None and user_id is None:
                logger.error("multibuzz.track(%r): no visitor_id or user_id (called outside a request?)", event_type)
                return None
            event_id = event_id or client_event_id()
            event: dict[str, Any] = {
                "event_type": event_type,
                "event_id": event_id,
                "timestamp": timestamp.isoformat() if isinstance(timestamp, datetime) else (timestamp or time.time()),
                "properties": dict(properties) if properties else {},
            }
            if visitor_id is not None:
                event["visitor_id"] = visitor_id
            if user_id is not None:
                event["user_id"] = user_id
            if visit is not None:
                if visit.ip:
                    event["ip"] = visit.ip
                if visit.user_agent:
                    event["user_agent"] = visit.user_agent
            self.sender.put(EVENT, event, None, visitor_id or user_id)
            return event_id
        except Exception:
            logger.exception("multibuzz.track(%r) failed; the app goes on", event_type)
            return None

    def identify(
        self, user_id: str, traits: Mapping[str, Any] | None = None, *, visitor_id: str | None = None
    ) -> str | None:
        """Link the current (or given) visitor to a known user; returns the request's idempotency key."""
        if not self.config.enabled:
            return None
        try:
            if not user_id:
                logger.error("multibuzz.identify: user_id is required")
                return None
            visit = current_visit()
            visitor_id = visitor_id or (visit.visitor_id if visit else None)
            payload: dict[str, Any] = {"user_id": str(user_id), "traits": dict(traits) if traits else {}}
            if visitor_id:
                payload["visitor_id"] = visitor_id
            key = client_event_id()
            self.sender.put(IDENTIFY, payload, key, visitor_id or str(user_id))
            return key
        except Exception:
            logger.exception("multibuzz.identify failed; the app goes on")
            return None

    def conversion(
        self,
        conversion_type: str,
        revenue: float | Decimal | str | None = None,
        currency: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        visitor_id: str | None = None,
        user_id: str | None = None,
        event_id: str | None = None,
        is_acquisition: bool = False,
        inherit_acquisition: bool = False,
        idempotency_key: str | None = None,
        timestamp: float | datetime | None = None,
    ) -> str | None:
        """Queue a conversion; the idempotency key (yours, e.g. an order id, or a fresh one) is returned."""
        if not self.config.enabled:
            return None
        try:
            visit = current_visit()
            if visitor_id is None and user_id is None and event_id is None and visit is not None:
                visitor_id = visit.visitor_id
            if visitor_id is None and user_id is None and event_id is None:
                logger.error("multibuzz.conversion(%r): no visitor_id, user_id or event_id", conversion_type)
                return None
            payload: dict[str, Any] = {
                "conversion_type": conversion_type,
                "properties": dict(properties) if properties else {},
                "is_acquisition": is_acquisition,
                "inherit_acquisition": inherit_acquisition,
            }
            for name, value in (("visitor_id", visitor_id), ("user_id", user_id), ("event_id", event_id)):
                if value is not None:
                    payload[name] = value
            if revenue is not None:
                payload["revenue"] = _number(revenue, "revenue")
            if currency is not None:
                payload["currency"] = currency
            if timestamp is not None:
                payload["timestamp"] = timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp
            key = idempotency_key or client_event_id()
            self.sender.put(CONVERSION, {"conversion": payload}, key, visitor_id or user_id or event_id)
            return key
        except Exception:
            logger.exception("multibuzz.conversion(%r) failed; the app goes on", conversion_type)
            return None

    def event(
        self,
        action: str,
        value: float | Decimal | str | None = None,
        coupon_code: str | None = None,
        ref_code: str | None = None,
        *,
        currency: str | None = None,
        properties: Mapping[str, Any] | None = None,
        event_type: str | None = None,
        visitor_id: str | None = None,
        user_id: str | None = None,
        landing_url: str | None = None,
        referrer: str | None = None,
        event_id: str | None = None,
    ) -> str | None:
        """The unified form (purchase, add_to_cart, signup, drop_off, custom); a purchase is also a conversion."""
        if not self.config.enabled:
            return None
        try:
            if action not in UNIFIED_ACTIONS:
                logger.error("multibuzz.event: action must be one of %s, got %r", ", ".join(UNIFIED_ACTIONS), action)
                return None
            visit = current_visit()
            if visitor_id is None and user_id is None and visit is not None:
                visitor_id = visit.visitor_id
            if visitor_id is None and user_id is None:
                logger.error("multibuzz.event(%r): no visitor_id or user_id", action)
                return None
            event_id = event_id or client_event_id()
            payload: dict[str, Any] = {"action": action, "event_id": event_id, "timestamp": time.time()}
            optional = {
                "value": _number(value, "value"),
                "currency": currency,
                "coupon_code": coupon_code,
                "ref_code": ref_code,
                "event_type": event_type,
                "visitor_id": visitor_id,
                "user_id": user_id,
                "landing_url": landing_url or (visit.url if visit else None),
                "referrer": referrer or (visit.referrer if visit else None),
                "ip": visit.ip if visit else None,
                "user_agent": visit.user_agent if visit else None,
            }
            payload.update({k: v for k, v in optional.items() if v is not None})
            if properties:
                payload["properties"] = dict(properties)
            self.sender.put(UNIFIED, payload, event_id, visitor_id or user_id)
            return event_id
        except Exception:
            logger.exception("multibuzz.event(%r) failed; the app goes on", action)
            return None

    def _session_hit(self, visit: Visit) -> None:
        """A visit's hit (``POST /sessions``): queued by the middleware for a new session or a marketing touch."""
        session: dict[str, Any] = {
            "visitor_id": visit.visitor_id,
            "session_id": visit.session_id,
            "url": visit.url,
            "started_at": time.time(),
        }
        if visit.referrer:
            session["referrer"] = visit.referrer
        if visit.user_agent:
            session["user_agent"] = visit.user_agent
        if visit.ip:
            session["ip"] = visit.ip
        self.sender.put(SESSION, session, None, visit.visitor_id)

    # -- reads: raise ApiError, they are explicit calls whose answer the app needs ----------------
    def _get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        return self._call("GET", path, None, query)

    def _call(self, method: str, path: str, payload: Any, query: dict[str, Any] | None = None) -> Any:
        config = self.config
        transport = Transport(config.base, config.api_key, config.timeout, config.signing_secret)
        try:
            body = dumps(payload) if payload is not None else None
            response: Response = transport.request(method, path, body, query=query)
        finally:
            transport.close()
        if response.ok:
            return response.body
        if response.status == 0:
            raise ApiError(f"Multibuzz unreachable: {response.error}")
        message = response.body.get("message") if isinstance(response.body, dict) else None
        raise ApiError(
            f"{method} {path}: HTTP {response.status} {message or ''}".strip(), response.status, response.body
        )

    def attribution(
        self, conversion_id: str | None = None, *, visitor_id: str | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """A conversion's attribution (``GET /conversions/{id}``), or every conversion of a visitor.

        ``model`` keeps only that model's credits. Returns the API's body: ``{"conversion", "attribution"}``;
        for a visitor ``{"visitor_id", "conversions": [that body, …]}`` (newest first)."""
        if (conversion_id is None) == (visitor_id is None):
            raise ValueError("pass exactly one of conversion_id or visitor_id")
        if model is not None and model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}")
        if conversion_id is not None:
            return _only_model(self._get(f"/conversions/{conversion_id}"), model)
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self._get("/conversions", {"visitor_id": visitor_id, "limit": 200, "cursor": cursor})
            found.extend(page.get("data", []))
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return {
            "visitor_id": visitor_id,
            "conversions": [_only_model(self._get(f"/conversions/{c['id']}"), model) for c in found],
        }


def _only_model(body: dict[str, Any], model: str | None) -> dict[str, Any]:
    attribution = body.get("attribution")
    if model is not None and isinstance(attribution, dict) and isinstance(attribution.get("models"), dict):
        attribution["models"] = {model: attribution["models"].get(model, [])}
    return body


class Exports:
    """``client.exports.create(...)`` and ``client.exports.download(...)`` (seed: ``Export.download``)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, report: str, **params: Any) -> dict[str, Any]:
        """Start an export (``POST /exports``); returns the export (``id``, ``status``)."""
        return dict(self._client._call("POST", "/exports", {"report": report, **params}))

    def get(self, export_id: str) -> dict[str, Any]:
        return dict(self._client._get(f"/exports/{export_id}"))

    def download(self, export_id: str, path: str | None = None, *, wait: float = 60.0, poll: float = 1.0) -> bytes:
        """Wait (bounded) until the export is ready, then fetch its presigned URL; write it to ``path`` if given."""
        import urllib.request

        deadline = time.monotonic() + wait
        while True:
            export = self.get(export_id)
            url = export.get("download_url") or export.get("url")
            if url:
                break
            if export.get("status") in ("failed", "error"):
                raise ApiError(f"export {export_id} failed: {export.get('error') or export}", None, export)
            if time.monotonic() >= deadline:
                raise ApiError(f"export {export_id} not ready after {wait:.0f}s (status {export.get('status')})")
            time.sleep(poll)
        if not str(url).startswith(("http://", "https://")):
            raise ApiError(f"export {export_id} has no http(s) download URL: {url!r}")
        with urllib.request.urlopen(str(url), timeout=self._client.config.timeout) as answer:  # noqa: S310 (http(s) checked above)
            data: bytes = answer.read()
        if path is not None:
            with open(path, "wb") as out:
                out.write(data)
        return data
