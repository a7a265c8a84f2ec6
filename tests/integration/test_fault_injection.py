"""Fault injection on real parts (SQLite and MariaDB alike): nothing is lost, doubled or half-accepted.

(a) The database is unreachable while the consumer takes a batch: the consumer's container points at
    a real database it cannot reach (MariaDB: a loopback port nobody listens on; SQLite: a file
    that cannot be opened). Every message is reported failed and returns to the queue; once the
    database is back each event, session, identity and conversion is stored exactly once.
(b) The queue is unavailable at ingestion: the local queue's file cannot be opened (its path is a
    directory), SQS is an endpoint that refuses connections, or (a fake adapter) the queue answers
    but refuses every message. Every ingestion route answers 503
    with ``Retry-After`` and nothing of the request is queued or stored; the same request succeeds
    once the queue is back.

No function of ours is patched: the failures are the ones the real drivers raise (the last case is a
fake queue adapter, as SQS's per-entry failures cannot be provoked on demand).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from multibuzz import topology
from multibuzz.adapters.queue.base import OutgoingMessage, SendResult
from multibuzz.bootstrap import Container, use_container
from multibuzz.db.models import AttributionCredit, Conversion, Event, Identity, Visitor, VisitSession
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url

from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api, free_port, make_settings

VISITORS = ["f" * 63 + str(n) for n in range(3)]


def _count(container: Container, model: Any) -> int:
    with container.session() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def _counts(container: Container) -> dict[str, int]:
    models = {
        "events": Event,
        "visitors": Visitor,
        "sessions": VisitSession,
        "identities": Identity,
        "conversions": Conversion,
        "credits": AttributionCredit,
    }
    return {name: _count(container, model) for name, model in models.items()}


def _unreachable_engine(database_url: str, tmp_path: Path) -> Engine:
    """A real engine for a database that cannot be reached."""
    url = make_url(database_url)
    if url.get_backend_name() == "mysql":
        return create_engine(url.set(host="127.0.0.1", port=free_port()), pool_pre_ping=True)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the database's directory should be")
    return create_engine(f"sqlite:///{blocker / 'multibuzz.db'}")


@pytest.fixture
def broken_database(container: Container, database_url: str, tmp_path: Path) -> Iterator[Container]:
    """A container like the test's (same queue file) whose database is unreachable."""
    engine = _unreachable_engine(database_url, tmp_path)
    broken = Container(make_settings(tmp_path, database_url), engine=engine, queue=container.local_queue)
    yield broken
    engine.dispose()


def _deliver(container: Container) -> Any:
    return deliver_once(container.local_queue, "ingest", load_handler("attribution"), backoff_seconds=0)


def _drain(container: Container) -> int:
    total = 0
    while (report := _deliver(container)).received:
        assert report.dead == 0
        total += report.received
    return total


def _post_traffic(api: Api, key: str) -> None:
    headers = {"authorization": f"Bearer {key}"}
    batch = [
        {
            "event_type": "page_view",
            "visitor_id": v,
            "event_id": f"{v[-1]}-{n}",
            "properties": {"url": "https://s.example/"},
        }
        for v in VISITORS
        for n in range(2)
    ]
    assert api.client.post("/api/v1/events", json={"events": batch}, headers=headers).status_code == 202
    session = {"session": {"visitor_id": VISITORS[0], "session_id": "s-1", "url": "https://s.example/?utm_source=x"}}
    assert api.client.post("/api/v1/sessions", json=session, headers=headers).status_code == 202
    identify = {"user_id": "u-1", "visitor_id": VISITORS[1]}
    assert api.client.post("/api/v1/identify", json=identify, headers=headers).status_code == 200


def test_database_down_during_a_consumer_batch_loses_and_doubles_nothing(
    api: Api, container: Container, broken_database: Container
) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)
    shop = api.tenant("Database outage")
    _post_traffic(api, shop.api_key)
    queued = container.local_queue.depth("ingest")
    assert queued >= 3
    before = _counts(container)

    use_container(broken_database)
    try:
        for _ in range(2):  # two deliveries while it is down: each message fails and goes back
            report = _deliver(container)
            assert report.received == queued
            assert (report.succeeded, report.retried, report.dead) == (0, queued, 0)
    finally:
        use_container(container)
    assert container.local_queue.depth("ingest") == queued, "every message is still there"
    assert _counts(container) == before, "nothing was half-written"

    assert _drain(container) == queued
    after = _counts(container)
    assert after["events"] == 6 and after["visitors"] == 3 and after["identities"] == 1
    sessions = after["sessions"]

    # A conversion, attributed through the same outage.
    conversion = api.client.post(
        "/api/v1/conversions",
        json={"conversion_type": "purchase", "visitor_id": VISITORS[0], "revenue": "30"},
        headers=api.auth(shop.api_key),
    )
    assert conversion.status_code == 202, conversion.text
    use_container(broken_database)
    try:
        assert _deliver(container).retried == 1
    finally:
        use_container(container)
    assert _drain(container) == 1
    got = api.client.get(f"/api/v1/conversions/{conversion.json()['id']}", headers=api.auth(shop.owner_token)).json()
    assert got["status"] == "attributed"

    # The client retries everything (it never saw the outage end): still stored once.
    _post_traffic(api, shop.api_key)
    _drain(container)
    final = _counts(container)
    assert (final["events"], final["visitors"], final["sessions"], final["identities"]) == (6, 3, sessions, 1)
    assert final["conversions"] == 1
    with container.session() as db:
        versions = db.scalars(select(AttributionCredit.version).distinct()).all()
    assert list(versions) == [1], "one attribution, not one per delivery"
    assert container.local_queue.dead_letters("ingest") == []


@pytest.fixture
def unopenable_queue(container: Container, database_url: str, tmp_path: Path) -> Iterator[Container]:
    """A container like the test's (same database) whose local queue file cannot be opened."""
    queue_path = tmp_path / "queue-is-a-directory"
    queue_path.mkdir()
    broken = Container(
        make_settings(
            tmp_path / "broken", database_url, local_queue_path=queue_path, conversion_lookup_grace_seconds=0
        ),
        engine=container.engine,
    )
    use_container(broken)
    yield broken
    use_container(container)


@pytest.fixture
def refusing_sqs(
    container: Container, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    """A container whose queues are SQS at a loopback endpoint that refuses connections."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast: the refusal is what is tested, not botocore's retries
    endpoint = f"http://127.0.0.1:{free_port()}"
    # Every standard queue of the topology (SQS settings refuse to start without each one's URL).
    urls = {f"{q.name}_queue_url": f"{endpoint}/000000000000/{q.name}" for q in topology.QUEUES if not q.fifo}
    broken = Container(
        make_settings(
            tmp_path / "sqs",
            database_url,
            queue_backend="sqs",
            aws_endpoint_url=endpoint,
            ingest_queue_url=f"{endpoint}/000000000000/ingest.fifo",
            conversion_lookup_grace_seconds=0,
            **urls,
        ),
        engine=container.engine,
    )
    use_container(broken)
    yield broken
    use_container(container)


class EntriesRefused:
    """A queue that is reachable but refuses every message, as SQS reports entries in ``Failed``."""

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return [SendResult(index, None, "ServiceUnavailable") for index in range(len(messages))]


@pytest.fixture
def entries_refused(container: Container, database_url: str, tmp_path: Path) -> Iterator[Container]:
    broken = Container(
        make_settings(tmp_path / "refused", database_url, conversion_lookup_grace_seconds=0),
        engine=container.engine,
        queue=EntriesRefused(),
    )
    use_container(broken)
    yield broken
    use_container(container)


BATCH = [{"event_type": "page_view", "visitor_id": v, "event_id": f"q-{v[-1]}"} for v in VISITORS]
REQUESTS = [
    ("/api/v1/events", {"events": BATCH}),
    ("/api/v1/events", {"action": "purchase", "visitor_id": VISITORS[0], "value": 12, "currency": "EUR",
                        "event_id": "q-p"}),
    ("/api/v1/event/purchase", {"visitor_id": VISITORS[1], "value": 3, "currency": "EUR", "event_id": "q-a"}),
    ("/api/v1/sessions", {"session": {"visitor_id": VISITORS[0], "session_id": "q-s"}}),
    ("/api/v1/identify", {"user_id": "q-u", "visitor_id": VISITORS[2]}),
    ("/api/v1/conversions", {"conversion_type": "signup", "visitor_id": VISITORS[0]}),
]  # fmt: skip


def _seed_visitor(container: Container, account_id: str) -> None:
    now = container.clock.now()
    with container.session() as db:
        db.add(Visitor(id=container.ids.new("vis"), account_id=account_id, visitor_key=VISITORS[0],
                       first_seen_at=now, last_seen_at=now))  # fmt: skip
        db.commit()


def _queue_down(api: Api, container: Container, key: str) -> None:
    for path, body in REQUESTS:
        response = api.client.post(path, json=body, headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"] == "unavailable", path
        assert 1 <= int(response.headers["retry-after"]) <= 60, path
    assert container.local_queue.depth("ingest") == 0, "nothing of a refused request was queued"
    assert _count(container, Conversion) == 0, "no conversion is left pending without its message"


@pytest.mark.parametrize("outage", ["unopenable_queue", "refusing_sqs", "entries_refused"])
def test_queue_down_at_ingestion_is_a_clear_503_and_nothing_half_accepted(
    api: Api, container: Container, outage: str, request: pytest.FixtureRequest
) -> None:
    object.__setattr__(container.settings, "conversion_lookup_grace_seconds", 0.0)
    shop = api.tenant(f"Queue outage {outage}")
    _seed_visitor(container, shop.account_id)
    request.getfixturevalue(outage)
    _queue_down(api, container, shop.api_key)

    use_container(container)  # the queue is back: the same requests are accepted, once
    for path, body in REQUESTS:
        response = api.client.post(path, json=body, headers=api.auth(shop.api_key))
        assert response.status_code in (200, 202), (path, response.text)
    _drain(container)
    assert _count(container, Event) == 5
    assert _count(container, Conversion) == 3  # two unified purchases and the signup
