"""What the ingestion API puts on the ingest FIFO queue (shared by producer and consumer; no heavy imports).

Envelope kinds and payloads (short keys: a batch of 1000 events travels in few messages):
- ``events.track`` ``{"events": [{"id", "cid", "type", "at", "rcv", "vid", "uid", "props", "url",
  "ref", "ua", "ip", "funnel", "step", "pos"}]}`` — one visitor's (or one user's) events of a request;
- ``session.hit`` ``{"vid", "sid", "at", "url", "ref", "ua", "ip"}`` — ``POST /sessions``;
- ``identify`` ``{"uid", "vid", "traits", "at"}`` — ``POST /identify``.
Times are ISO-8601 UTC; ``ip`` is already reduced per the account's ``ip_privacy``.
"""

from __future__ import annotations

QUEUE = "ingest"
KIND_EVENTS = "events.track"
KIND_SESSION = "session.hit"
KIND_IDENTIFY = "identify"


def group_id(account_id: str, visitor_id: str | None, user_id: str | None) -> str:
    """FIFO message group: the visitor, or the user when the hit names no visitor."""
    if visitor_id:
        return f"{account_id}:{visitor_id}"
    return f"{account_id}:user:{user_id}"
