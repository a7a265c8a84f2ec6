"""The queue journal: publishers append, the shipper moves lines into the local queue in order, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError
from multibuzz.adapters.queue.journal import JournalPublisher, MessageJournalShipper, queue_journal_directory
from multibuzz.adapters.queue.local import LocalQueue
from multibuzz.bootstrap import Container
from multibuzz.db.models import Event
from sqlalchemy import select

from tests.conftest import Api, make_settings


@pytest.fixture
def queue(tmp_path: Path) -> LocalQueue:
    return LocalQueue(tmp_path / "q.db", fifo_queues=("ingest",))


def bodies(queue: LocalQueue, name: str) -> list[tuple[str, str | None]]:
    rows = queue._conn().execute("SELECT body, group_id FROM messages WHERE queue = ? ORDER BY seq", (name,))
    return [(body, group) for body, group in rows]


def test_lines_reach_the_queue_in_order_with_groups_dedup_and_attributes(tmp_path: Path, queue: LocalQueue) -> None:
    directory = tmp_path / "journal"
    publisher = JournalPublisher(directory, fifo_queues=("ingest",))
    for n in range(30):
        results = publisher.send_batch(
            "ingest",
            [
                OutgoingMessage(f'{{"n":{n},"v":"a"}}', group_id="acc:a", dedup_id=f"a{n}"),
                OutgoingMessage(f'{{"n":{n},"v":"b"}}', group_id="acc:b", dedup_id=f"b{n}"),
            ],
        )
        assert [r.ok for r in results] == [True, True]
    publisher.send_batch("ingest", [OutgoingMessage('{"n":0,"v":"a"}', group_id="acc:a", dedup_id="a0")])  # a retry
    publisher.send_batch("clicks", [OutgoingMessage('{"click":1}', attributes={"k": "v"})])
    publisher.send_batch("clicks", [OutgoingMessage('{"two":\n"lines\tand a tab"}')])  # kept exactly
    publisher.journal.append("not a journal line")
    refused = publisher.send_batch("ingest", [OutgoingMessage("{}", group_id=None)])
    assert refused[0].error == "FIFO queue needs a message group id", "refused up front, as the queue would"
    assert queue.depth("ingest") == 0, "nothing is in the queue before the shipper runs"

    report = MessageJournalShipper(directory, batch=7).ship(queue)
    assert report.queue_error is None and report.rejected == 1 and report.sent == 63
    shipped = bodies(queue, "ingest")
    assert len(shipped) == 60, "the retry within the dedup window was deduplicated"
    for visitor in ("a", "b"):
        assert [json.loads(b)["n"] for b, g in shipped if g == f"acc:{visitor}"] == list(range(30))
    clicks = queue.receive("clicks")
    assert [(m.body, m.attributes) for m in clicks] == [
        ('{"click":1}', {"k": "v"}),
        ('{"two":\n"lines\tand a tab"}', {}),
    ]
    assert (directory / "queue.rejected.jsonl").read_text() == "not a journal line\n"
    assert MessageJournalShipper(directory).ship(queue).sent == 0, "shipped once"


def test_the_queue_being_down_keeps_the_lines_for_the_next_round(tmp_path: Path, queue: LocalQueue) -> None:
    directory = tmp_path / "journal"
    JournalPublisher(directory, fifo_queues=("ingest",)).send_batch(
        "ingest", [OutgoingMessage('{"x":1}', group_id="g", dedup_id="x1")]
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    down = MessageJournalShipper(directory).ship(LocalQueue(broken, fifo_queues=("ingest",)))
    assert down.queue_error and down.sent == 0 and down.pending_bytes > 0
    assert MessageJournalShipper(directory).ship(queue).sent == 1
    assert queue.depth("ingest") == 1


def test_an_unwritable_journal_is_a_queue_outage(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(QueueUnavailableError):
        JournalPublisher(blocked / "journal", fifo_queues=("ingest",)).send_batch(
            "ingest", [OutgoingMessage("{}", group_id="g")]
        )


def test_ingestion_through_the_journal_stores_every_accepted_event(
    api: Api, container: Container, tmp_path: Path, database_url: str
) -> None:
    """As under ``make serve``: the events function appends to the journal, the shipper fills the queue."""
    from multibuzz.bootstrap import use_container

    from infra.local.dispatch import deliver_once, load_handler

    tenant = api.tenant("Journal")
    journaled = Container(
        make_settings(tmp_path / "journaled", database_url, local_queue_journal=True), engine=container.engine
    )
    use_container(journaled)
    try:
        answers: list[Any] = []
        for n in range(12):
            event = {"event_type": "page_view", "visitor_id": "e" * 64, "event_id": f"j-{n}"}
            answers.append(
                api.client.post("/api/v1/events", json={"events": [event]}, headers=api.auth(tenant.api_key))
            )
        assert [a.status_code for a in answers] == [202] * 12
        assert journaled.local_queue.depth("ingest") == 0
        directory = queue_journal_directory(journaled.settings.data_dir)
        assert MessageJournalShipper(directory).ship(journaled.local_queue).sent == 12
        handler = load_handler("attribution")
        while deliver_once(journaled.local_queue, "ingest", handler, backoff_seconds=0).received:
            pass
        with journaled.session() as db:
            stored = db.scalars(select(Event.event_type).where(Event.account_id == tenant.account_id)).all()
        assert len(stored) == 12
    finally:
        use_container(container)
        journaled.local_queue.close()
