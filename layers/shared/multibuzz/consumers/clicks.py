"""``click.record`` messages from the redirect → the clicks table (idempotent; see services.clicks)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.registry import handles
from multibuzz.services.clicks import record_click
from multibuzz.telemetry import metrics


@handles("click.record")
def handle_click(envelope: Envelope, session: Session, container: Container) -> None:
    if record_click(session, container.clock, envelope.account_id, envelope.payload) is not None:
        metrics.count(metrics.Metric.CLICKS_RECORDED)
