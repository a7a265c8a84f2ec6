"""Delivery: a bounded in-memory queue drained by one background thread (or sent inline in sync mode).

- ``put`` is what the request path pays: one ``deque.append`` (plus a wake-up when a batch is full).
  When the queue is full the oldest item is dropped and counted.
- The sender batches events up to the API's limit (count and bytes), sends sessions, identifies and
  conversions one per request, and retries 429/5xx/timeouts with exponential backoff and full jitter,
  honouring ``Retry-After``. A request keeps its ``Idempotency-Key`` (and every event its ``event_id``)
  across retries, so a retry never double counts.
- Nothing here raises into the host app: failures are counted and logged through ``logging``.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from multibuzz_client.config import MAX_BODY_BYTES, Config
from multibuzz_client.transport import Response, Transport, dumps

logger = logging.getLogger("multibuzz_client")

SESSION, EVENT, IDENTIFY, CONVERSION, UNIFIED = "session", "event", "identify", "conversion", "unified"
# Order inside one drained chunk: a visit before its page views, page views before the identify and the
# purchase that follow them (the server keeps a visitor's messages in order from there on).
_KIND_ORDER = (SESSION, EVENT, IDENTIFY, CONVERSION, UNIFIED)
_PATHS = {SESSION: "/sessions", EVENT: "/events", IDENTIFY: "/identify", CONVERSION: "/conversions", UNIFIED: "/events"}

Item = tuple[str, dict[str, Any], str | None]  # (kind, payload, idempotency key)


@dataclass
class Stats:
    queued: int = 0  # accepted by put()
    sent: int = 0  # items Multibuzz accepted
    dropped: int = 0  # oldest items pushed out of a full queue
    failed: int = 0  # items given up on after the last retry
    rejected: int = 0  # items Multibuzz refused (4xx, per-event validation errors)
    malformed: int = 0  # items that could not be encoded as JSON
    retries: int = 0  # retried requests
    requests: int = 0  # HTTP requests made

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Request:
    kind: str
    path: str
    body: bytes
    count: int
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


class _Lane:
    """One queue and the thread that drains it. A visitor's items always go to the same lane, in order."""

    def __init__(self, index: int, capacity: int) -> None:
        self.index = index
        self.capacity = capacity
        self.queue: deque[Item] = deque(maxlen=capacity)
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.inflight = 0
        self.dropping = False


class Sender:
    def __init__(self, config: Config, transport_factory: Callable[[], Transport] | None = None) -> None:
        self.config = config
        self.stats = Stats()
        count = max(1, config.senders)
        capacity = max(1, -(-config.max_queue // count))
        self._lanes = [_Lane(i, capacity) for i in range(count)]
        self._batch = config.batch_size
        self._abort = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()
        self._local = threading.local()
        self._factory = transport_factory or (
            lambda: Transport(config.base, config.api_key, config.timeout, config.signing_secret)
        )
        if config.flush_at_exit and not config.sync:
            atexit.register(self.shutdown)
        this = weakref.ref(self)  # the fork hook cannot be unregistered: it must not keep the sender alive

        def after_fork() -> None:
            sender = this()
            if sender is not None:
                sender._after_fork()

        os.register_at_fork(after_in_child=after_fork)

    # -- request path -------------------------------------------------------------------------
    def put(self, kind: str, payload: dict[str, Any], key: str | None = None, shard: str | None = None) -> None:
        """Queue one item; ``shard`` (the visitor or user id) keeps one visitor's items in one lane, in order."""
        if self.config.sync:
            self._send_items([(kind, payload, key)])
            return
        lanes = self._lanes
        lane = lanes[hash(shard) % len(lanes)] if shard is not None and len(lanes) > 1 else lanes[0]
        queue = lane.queue
        if len(queue) >= lane.capacity:
            with self._lock:
                self.stats.dropped += 1
            if not lane.dropping:
                lane.dropping = True
                logger.warning("multibuzz queue full (%d items): dropping the oldest", lane.capacity)
        queue.append((kind, payload, key))
        self.stats.queued += 1
        if lane.thread is None:
            self._start(lane)
        if len(queue) >= self._batch:
            lane.wake.set()

    def pending(self) -> int:
        return sum(len(lane.queue) + lane.inflight for lane in self._lanes)

    # -- lifecycle ----------------------------------------------------------------------------
    def _start(self, lane: _Lane) -> None:
        with self._lock:
            if lane.thread is None:
                lane.thread = threading.Thread(
                    target=self._run, args=(lane,), name=f"multibuzz-sender-{lane.index}", daemon=True
                )
                lane.thread.start()

    def _after_fork(self) -> None:  # a pre-forking server's worker starts its own threads
        for lane in self._lanes:
            lane.thread = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued now; wait up to ``timeout`` seconds (default: the client timeout times 4).
        True when the queues are empty and nothing is in flight."""
        if self.config.sync:
            return True
        deadline = time.monotonic() + (timeout if timeout is not None else self.config.timeout * 4)
        while self.pending():
            for lane in self._lanes:
                if lane.queue or lane.inflight:
                    if lane.thread is None:
                        self._start(lane)
                    lane.wake.set()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush (bounded) and stop the threads; registered with ``atexit`` unless ``flush_at_exit=False``."""
        if self._stopping:
            return
        atexit.unregister(self.shutdown)
        flushed = self.flush(timeout)
        self._stopping = True
        self._abort.set()
        for lane in self._lanes:
            lane.wake.set()
        if not flushed:
            logger.warning("multibuzz: %d item(s) not delivered at shutdown", self.pending())
        for lane in self._lanes:
            if lane.thread is not None and lane.thread is not threading.current_thread():
                lane.thread.join(timeout=1.0)
        transport = getattr(self._local, "transport", None)
        if transport is not None:
            transport.close()

    # -- the sender threads -------------------------------------------------------------------
    def _run(self, lane: _Lane) -> None:
        while not self._stopping:
            lane.wake.wait(self.config.flush_interval)
            lane.wake.clear()
            try:
                self._drain(lane)
            except Exception:  # the thread must survive anything
                logger.exception("multibuzz sender: unexpected error")
            finally:
                transport = getattr(self._local, "transport", None)
                if self._stopping and transport is not None:
                    transport.close()

    def _drain(self, lane: _Lane) -> None:
        queue = lane.queue
        while queue and not self._stopping:
            items: list[Item] = []
            with self._lock:
                while queue and len(items) < self._batch:
                    try:
                        items.append(queue.popleft())
                    except IndexError:
                        break
                lane.inflight += len(items)
            try:
                self._send_items(items)
            finally:
                with self._lock:
                    lane.inflight -= len(items)
            if lane.dropping and not queue:
                lane.dropping = False

    def _transport(self) -> Transport:
        transport: Transport | None = getattr(self._local, "transport", None)
        if transport is None:
            transport = self._local.transport = self._factory()
        return transport

    def _send_items(self, items: list[Item]) -> None:
        for request in self.build_requests(items):
            self._deliver(request)

    def build_requests(self, items: list[Item]) -> list[_Request]:
        """Encode items into requests: events packed up to the batch limit and the body limit; a payload
        that cannot be encoded is logged and counted, never raised."""
        by_kind: dict[str, list[Item]] = {}
        for item in items:
            by_kind.setdefault(item[0], []).append(item)
        requests: list[_Request] = []
        for kind in _KIND_ORDER:
            group = by_kind.get(kind)
            if not group:
                continue
            if kind == EVENT:
                requests.extend(self._event_requests(group))
                continue
            for _, payload, key in group:
                wrapped = {"session": payload} if kind == SESSION else payload
                body = self._encode(kind, wrapped)
                if body is not None:
                    requests.append(_Request(kind, _PATHS[kind], body, 1, key or uuid.uuid4().hex))
        return requests

    def _encode(self, kind: str, payload: Any) -> bytes | None:
        try:
            return dumps(payload)
        except (TypeError, ValueError) as exc:
            self._count("malformed", 1)
            logger.error("multibuzz: dropped a malformed %s payload (%s): %.300r", kind, exc, payload)
            return None

    def _event_requests(self, group: list[Item]) -> list[_Request]:
        requests: list[_Request] = []
        parts: list[bytes] = []
        size = 0
        for _, payload, _key in group:
            encoded = self._encode(EVENT, payload)
            if encoded is None:
                continue
            if parts and (len(parts) >= self._batch or size + len(encoded) + 1 > MAX_BODY_BYTES):
                requests.append(self._events_request(parts))
                parts, size = [], 0
            parts.append(encoded)
            size += len(encoded) + 1
        if parts:
            requests.append(self._events_request(parts))
        return requests

    @staticmethod
    def _events_request(parts: list[bytes]) -> _Request:
        return _Request(EVENT, "/events", b'{"events":[' + b",".join(parts) + b"]}", len(parts))

    def _deliver(self, request: _Request) -> Response | None:
        config = self.config
        attempt = 0
        while True:
            self._count("requests", 1)
            response = self._transport().request("POST", request.path, request.body, idempotency_key=request.key)
            if config.debug:
                logger.debug("multibuzz POST %s -> %s %.500r", request.path, response.status, response.body)
            if response.ok:
                self._accepted(request, response)
                return response
            if not response.retryable:
                self._count("rejected", request.count)
                logger.error(
                    "multibuzz refused %d %s item(s): HTTP %s %.500r",
                    request.count,
                    request.kind,
                    response.status,
                    response.body,
                )
                return response
            attempt += 1
            if attempt > config.max_retries or self._abort.is_set():
                self._count("failed", request.count)
                logger.error(
                    "multibuzz unreachable after %d attempt(s) (%s): dropped %d %s item(s)",
                    attempt,
                    response.error or f"HTTP {response.status}",
                    request.count,
                    request.kind,
                )
                return response
            delay = self.backoff(attempt, response.retry_after)
            self._count("retries", 1)
            logger.warning(
                "multibuzz %s (%s); retry %d in %.2fs",
                request.path,
                response.error or f"HTTP {response.status}",
                attempt,
                delay,
            )
            self._abort.wait(delay)

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter over an exponential ceiling; a server's Retry-After is a floor."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * (2 ** (attempt - 1)))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, 300.0))
        return delay

    def _accepted(self, request: _Request, response: Response) -> None:
        body = response.body if isinstance(response.body, dict) else {}
        errors = body.get("errors") if request.kind == EVENT else None
        rejected = len(errors) if isinstance(errors, list) else 0
        if rejected:
            self._count("rejected", rejected)
            for error in errors[:20] if isinstance(errors, list) else []:
                logger.error("multibuzz rejected an event: %s", error)
        self._count("sent", request.count - rejected)

    def _count(self, name: str, n: int) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + n)
