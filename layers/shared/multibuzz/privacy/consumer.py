"""The ``privacy`` queue's message handler (served by the attribution function's consumer)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.consumers.registry import handles
from multibuzz.privacy.erasure import KIND, run_erasure
from multibuzz.privacy.subjects import SubjectRef


@handles(KIND)
def erase(envelope: Envelope, session: Session, container: Container) -> None:
    # The job commits batch by batch in its own sessions (crash-safe progress); the record's one is unused.
    run_erasure(container, envelope.id, SubjectRef.from_message(envelope.payload["subject"]))
