"""The ingestion service: validated hits become messages on the ingest FIFO queue. No database here.

Messages (``Envelope.kind``, payloads in multibuzz.ingest.messages):
- ``events.track``: every event of one request for one visitor (or, without a visitor, one user), in
  order; split further so a body stays well under the SQS 256 KB limit. Envelope id and FIFO
  deduplication id: a digest of its event ids.
- ``session.hit``: ``POST /sessions``. Envelope id derived from the client's session_id (or the
  Idempotency-Key header) when there is one, else fresh.
- ``identify``: ``POST /identify``. Envelope id derived from the Idempotency-Key header when given.
Message group: ``{account_id}:{visitor_id}``, or ``{account_id}:user:{user_id}`` without a visitor.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from multibuzz.adapters.queue.base import OutgoingMessage, QueuePublisher, QueueUnavailableError
from multibuzz.consumers.envelope import dumps_envelope
from multibuzz.conversions.ids import conversion_id_for
from multibuzz.domain.privacy import account_salt, apply_ip_privacy
from multibuzz.errors import InvalidInputError, ServiceUnavailableError
from multibuzz.http.errors import readable
from multibuzz.ids import IdGenerator
from multibuzz.ingest import ids as ingest_ids
from multibuzz.ingest.messages import KIND_EVENTS, KIND_IDENTIFY, KIND_SESSION, QUEUE, group_id
from multibuzz.ingest.schemas import (
    MAX_EVENTS_PER_BATCH,
    EventIn,
    IdentifyIn,
    SessionIn,
    Track,
    UnifiedEventIn,
)
from multibuzz.privacy.consent import anonymous_visitor_key, lacks_consent
from multibuzz.privacy.hashing import hashed_traits
from multibuzz.services.context import KeyPrincipal
from multibuzz.telemetry import correlation, metrics

MAX_MESSAGE_BYTES = 200 * 1024  # SQS allows 256 KB per message; keep headroom for the envelope
_INVALID = (("reason", "validation"),)
_NOT_QUEUED = (("reason", "queue"),)


@dataclass(frozen=True, slots=True)
class EventError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass
class BatchOutcome:
    accepted: list[tuple[int, str]] = field(default_factory=list)  # (index, evt_ id)
    errors: list[EventError] = field(default_factory=list)
    conversions: dict[str, str] = field(default_factory=dict)  # evt_ id -> conv_ id (unified purchase)
    unqueued: int = 0  # valid events the queue refused (reported in errors as "not queued … retry")
    anonymous: list[int] = field(default_factory=list)  # indexes stored without identifiers (no consent)

    def refused_by_queue(self) -> bool:
        """Nothing accepted because the queue refused it all: a 503 for the caller, not a 422."""
        return not self.accepted and self.unqueued > 0

    def body(self) -> dict[str, Any]:
        body = {
            "accepted": len(self.accepted),
            "rejected": len(self.errors),
            "events": [{"index": index, "id": event_id} for index, event_id in self.accepted],
            "errors": [e.as_dict() for e in sorted(self.errors, key=lambda e: e.index)],
        }
        if self.anonymous:  # said only when it happened: the usual answer stays as it was
            accepted = {index for index, _ in self.accepted}
            body["anonymous"] = sorted(i for i in self.anonymous if i in accepted)
        return body


def _errors(exc: ValidationError, index: int, prefix: str) -> list[EventError]:
    out = []
    for error in exc.errors(include_url=False, include_context=False):
        loc = (prefix, index, *error.get("loc", ())) if prefix else tuple(error.get("loc", ()))
        item = readable({**error, "loc": loc})
        out.append(EventError(index, item["field"], item["message"]))
    return out


def _field(prefix: str, index: int, name: str) -> str:
    return f"{prefix}[{index}].{name}" if prefix else name


class Ingestor:
    """One request's worth of work for one authenticated API key."""

    def __init__(
        self, principal: KeyPrincipal, queue: QueuePublisher, ids: IdGenerator, now: datetime, server_secret: str
    ) -> None:
        self.principal = principal
        self.queue = queue
        self.ids = ids
        self.now = now
        mode = principal.account_settings.get("ip_privacy")
        self._ip_mode = mode if isinstance(mode, str) else None
        self._server_secret = server_secret
        self._salt: bytes | None = None
        self._require_consent = principal.account_settings.get("require_consent") is True
        self._attributes = correlation.message_attributes()  # the request id, as a message attribute

    def _ip(self, ip: str | None) -> str | None:
        """The raw address never reaches the queue: only what the account's ip_privacy keeps."""
        if not ip:
            return None
        if self._salt is None:
            self._salt = account_salt(self._server_secret, self.account_id)
        return apply_ip_privacy(ip, self._ip_mode, self._salt)

    @property
    def account_id(self) -> str:
        return self.principal.account_id

    def anonymous(self, analytics_consent: bool | None) -> bool:
        """No analytics consent (or none sent while the account requires it): store nothing identifying."""
        return lacks_consent(analytics_consent, self._require_consent)

    def _account_salt(self) -> bytes:
        if self._salt is None:
            self._salt = account_salt(self._server_secret, self.account_id)
        return self._salt

    def _anonymous_key(self, sent_id: str, at: datetime) -> str:
        return anonymous_visitor_key(self._account_salt(), self.account_id, sent_id, at)

    # -- events ----------------------------------------------------------------------------
    def validate_events(
        self,
        raw_events: Sequence[Any],
        *,
        model: type[EventIn] | type[UnifiedEventIn] = EventIn,
        prefix: str = "events",
        action: str | None = None,
    ) -> tuple[list[tuple[int, Track]], list[EventError]]:
        if len(raw_events) > MAX_EVENTS_PER_BATCH:
            raise InvalidInputError(f"at most {MAX_EVENTS_PER_BATCH} events per request", field="events")
        valid: list[tuple[int, Track]] = []
        errors: list[EventError] = []
        context = {"now": self.now}
        for index, raw in enumerate(raw_events):
            if not isinstance(raw, dict):
                errors.append(EventError(index, f"{prefix}[{index}]" if prefix else "body", "must be a JSON object"))
                continue
            data = {**raw, "action": action} if action is not None else raw
            try:
                parsed: BaseModel = model.model_validate(data, context=context)
            except ValidationError as exc:
                errors.extend(_errors(exc, index, prefix))
                continue
            assert isinstance(parsed, EventIn | UnifiedEventIn)
            if parsed.visitor_id is None and parsed.user_id is None:
                missing = "visitor_id or user_id is required"
                errors.append(EventError(index, _field(prefix, index, "visitor_id"), missing))
                continue
            raw_properties = raw.get("properties")
            valid.append((index, parsed.track(raw_properties if isinstance(raw_properties, dict) else {})))
        if errors:  # (a call saved on the usual request)
            metrics.count(metrics.Metric.EVENTS_REJECTED, len(errors), _INVALID)
        return valid, errors

    def track(
        self, valid: list[tuple[int, Track]], errors: list[EventError], *, idempotency_key: str | None = None
    ) -> BatchOutcome:
        """Mint ids, group by visitor, enqueue. Events of messages the queue refused become errors."""
        outcome = BatchOutcome(errors=list(errors))
        single = len(valid) == 1 and not errors
        received_at = self.now.isoformat()
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, event in valid:
            consent = event.analytics_consent
            if consent is not True and (consent is False or self._require_consent):  # self.anonymous, inlined
                event = self._without_identifiers(event)
                outcome.anonymous.append(index)
            client_id = event.event_id or (idempotency_key if single else None)
            event_id = ingest_ids.event_id(self.ids, self.account_id, client_id)
            body = {
                "id": event_id,
                "cid": client_id,
                "type": event.event_type,
                "at": received_at if event.timestamp is None else event.timestamp.isoformat(),
                "rcv": received_at,
                "vid": event.visitor_id,
                "uid": event.user_id,
                "props": event.properties,
                "url": event.url,
                "ref": event.referrer,
                "ua": event.user_agent,
                "ip": self._ip(event.ip),
                "funnel": event.funnel,
                "step": event.funnel_step,
                "pos": event.funnel_position,
            }
            if event.conversion is not None:
                conversion_id = conversion_id_for(self.account_id, f"event:{event_id}")
                body["conv"] = {
                    "id": conversion_id,
                    "type": event.conversion.conversion_type,
                    "revenue": str(event.conversion.revenue),
                    "currency": event.conversion.currency,
                }
                outcome.conversions[event_id] = conversion_id
            groups.setdefault(group_id(self.account_id, event.visitor_id, event.user_id), []).append((index, body))

        messages: list[OutgoingMessage] = []
        members: list[list[tuple[int, str]]] = []
        attributes = self._attributes
        for group, items in groups.items():
            for chunk in _chunks(items):
                event_ids = [body["id"] for _, body in chunk]
                envelope_id = ingest_ids.derived_id("evts", self.account_id, *event_ids)
                envelope = dumps_envelope(
                    KIND_EVENTS, envelope_id, self.account_id, {"events": [body for _, body in chunk]}
                )
                messages.append(OutgoingMessage(envelope, group_id=group, dedup_id=envelope_id, attributes=attributes))
                members.append([(index, body["id"]) for index, body in chunk])
        for result in self._send(messages):
            if result is None:
                continue
            position, error = result
            for index, _ in members[position]:
                outcome.errors.append(EventError(index, f"events[{index}]", f"not queued ({error}); retry"))
                outcome.unqueued += 1
            members[position] = []
        outcome.accepted = sorted(pair for group_members in members for pair in group_members)
        metrics.count(metrics.Metric.EVENTS_ACCEPTED, len(outcome.accepted))
        if outcome.unqueued:
            metrics.count(metrics.Metric.EVENTS_REJECTED, outcome.unqueued, _NOT_QUEUED)
        if outcome.conversions:  # a purchase is also a conversion (only those whose event was queued)
            queued = {event_id for _, event_id in outcome.accepted}
            metrics.count(metrics.Metric.CONVERSIONS_ACCEPTED, sum(1 for e in outcome.conversions if e in queued))
        return outcome

    def _without_identifiers(self, event: Track) -> Track:
        """The event as a consent-less hit: a cookieless visitor of the day, no user id, IP or user agent."""
        at = event.timestamp or self.now
        sent = event.visitor_id or f"user:{event.user_id}"
        return dataclasses.replace(
            event, visitor_id=self._anonymous_key(sent, at), user_id=None, ip=None, user_agent=None
        )

    # -- sessions and identify -------------------------------------------------------------------
    def session_hit(self, hit: SessionIn, *, idempotency_key: str | None = None) -> bool:
        """Queue a session start. True when it was stored without identifiers (no analytics consent)."""
        anonymous = self.anonymous(None if hit.consent is None else hit.consent.analytics)
        if anonymous:
            at = hit.started_at or self.now
            hit = hit.model_copy(
                update={"visitor_id": self._anonymous_key(hit.visitor_id, at), "user_agent": None, "ip": None}
            )
        natural = hit.session_id or idempotency_key
        envelope_id = (
            ingest_ids.derived_id("hit", self.account_id, hit.visitor_id, natural) if natural else self.ids.new("hit")
        )
        payload = {
            "vid": hit.visitor_id,
            "sid": hit.session_id,
            "at": (hit.started_at or self.now).isoformat(),
            "url": hit.url,
            "ref": hit.referrer,
            "ua": hit.user_agent,
            "ip": self._ip(hit.ip),
        }
        envelope = dumps_envelope(KIND_SESSION, envelope_id, self.account_id, payload)
        self._send_one(
            OutgoingMessage(
                envelope,
                group_id=group_id(self.account_id, hit.visitor_id, None),
                dedup_id=envelope_id,
                attributes=self._attributes,
            )
        )
        return anonymous

    def identify(self, body: IdentifyIn, *, idempotency_key: str | None = None) -> str:
        if self.anonymous(None if body.consent is None else body.consent.analytics):
            raise InvalidInputError(
                "identify links a visitor to a known user: it needs consent.analytics=true "
                "(sent false, or not sent while the account sets require_consent)",
                field="consent.analytics",
            )
        identity = ingest_ids.identity_id(self.account_id, body.user_id)
        envelope_id = (
            ingest_ids.derived_id("idf", self.account_id, body.user_id, idempotency_key)
            if idempotency_key
            else self.ids.new("idf")
        )
        payload = {
            "uid": body.user_id,
            "vid": body.visitor_id,
            "traits": hashed_traits(body.traits, self._account_salt()),
            "at": (body.timestamp or self.now).isoformat(),
        }
        envelope = dumps_envelope(KIND_IDENTIFY, envelope_id, self.account_id, payload)
        self._send_one(
            OutgoingMessage(
                envelope,
                group_id=group_id(self.account_id, body.visitor_id, body.user_id),
                dedup_id=envelope_id,
                attributes=self._attributes,
            )
        )
        return identity

    # -- queue -----------------------------------------------------------------------------------
    def _send(self, messages: list[OutgoingMessage]) -> list[tuple[int, str] | None]:
        if not messages:
            return []
        try:
            results = self.queue.send_batch(QUEUE, messages)
        except QueueUnavailableError as exc:
            raise ServiceUnavailableError("the ingest queue is unavailable; retry shortly") from exc
        return [None if r.ok else (r.index, r.error or "refused") for r in results]

    def _send_one(self, message: OutgoingMessage) -> None:
        failures = [f for f in self._send([message]) if f is not None]
        if failures:
            raise ServiceUnavailableError("the ingest queue refused the message; retry shortly")


def _chunks(items: list[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """Split one group's events so each message body stays under MAX_MESSAGE_BYTES."""
    if len(items) == 1:  # one event is one chunk whatever its size, as below: no need to measure it
        return [items]
    chunks: list[list[tuple[int, dict[str, Any]]]] = [[]]
    size = 0
    for item in items:
        item_size = len(json.dumps(item[1], separators=(",", ":"), default=str)) + 1
        if chunks[-1] and size + item_size > MAX_MESSAGE_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return chunks
