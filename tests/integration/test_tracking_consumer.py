"""The attribution consumer under concurrency, poison messages and out-of-order delivery (SQLite and MariaDB)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.db.models import Event, Visitor, VisitSession
from multibuzz.ids import UlidGenerator
from multibuzz.ingest.ids import event_id
from multibuzz.services import tracking
from multibuzz.services.tenancy import Tenancy
from sqlalchemy import func, select

from infra.local.dispatch import deliver_once, load_handler

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
VISITOR = "9" * 64
IDS = UlidGenerator()


def account(container: Container, name: str = "Consumer") -> str:
    with container.session() as session:
        created = Tenancy(session, container.clock, container.ids, container.secret_box).create_account(None, name)
        session.commit()
        return created.id


def events_message(account_id: str, *events: dict[str, Any], group: str | None = None) -> OutgoingMessage:
    body = [
        {
            "id": event_id(IDS, account_id, e.get("cid")),
            "type": "page_view",
            "rcv": T0.isoformat(),
            "vid": VISITOR,
            "props": {},
            **e,
        }
        for e in events
    ]
    envelope = Envelope(
        kind="events.track", id=f"evts_{body[0]['id']}", account_id=account_id, payload={"events": body}
    )
    return OutgoingMessage(envelope.dumps(), group_id=group or f"{account_id}:{VISITOR}")


def minutes(m: float) -> str:
    return (T0 + timedelta(minutes=m)).isoformat()


def drain(container: Container, max_attempts: int = 5) -> None:
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "ingest", handler, backoff_seconds=0, max_attempts=max_attempts).received:
        pass


def test_concurrent_consumers_create_one_visitor_and_one_session(container: Container) -> None:
    """20 first hits of one new visitor, in 20 different message groups, consumed by 4 threads at once."""
    account_id = account(container)
    messages = [
        events_message(
            account_id, {"at": minutes(i / 60), "url": "https://shop.example/?utm_source=x&utm_medium=y"}, group=f"g{i}"
        )
        for i in range(20)
    ]
    container.local_queue.send_batch("ingest", messages)
    handler = load_handler("attribution")
    start = threading.Barrier(4)

    def consume() -> None:
        start.wait()
        while deliver_once(container.local_queue, "ingest", handler, batch_size=1, backoff_seconds=0).received:
            pass

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain(container)  # anything released for a retry after a lock timeout or deadlock

    assert container.local_queue.dead_letters("ingest") == []
    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Visitor)) == 1
        sessions = db.scalars(select(VisitSession)).all()
        assert len(sessions) == 1 and sessions[0].page_view_count == 20
        assert db.scalar(select(func.count()).select_from(Event)) == 20


def poison(account_id: str) -> str:
    payload = {"events": [{"id": "evt_x"}]}  # no time, no visitor: fails the same way on every delivery
    return Envelope(kind="events.track", id="evts_poison", account_id=account_id, payload=payload).dumps()


def test_a_poison_message_is_dead_lettered_and_its_group_moves_on(container: Container) -> None:
    account_id = account(container)
    group = f"{account_id}:{VISITOR}"
    container.local_queue.send_batch("ingest", [OutgoingMessage(poison(account_id), group_id=group, dedup_id="p")])
    handler = load_handler("attribution")
    first = deliver_once(container.local_queue, "ingest", handler, backoff_seconds=0, max_attempts=3)
    assert first.retried == 1
    # The group's next message waits behind the poison (FIFO) and is stored once the poison is dead-lettered.
    container.local_queue.send_batch("ingest", [events_message(account_id, {"at": minutes(1)})])
    drain(container, max_attempts=3)
    assert [d.body for d in container.local_queue.dead_letters("ingest")] == [poison(account_id)]
    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 1


def test_a_poison_message_does_not_fail_other_groups_in_its_batch(container: Container) -> None:
    account_id = account(container)
    others = [
        events_message(account_id, {"at": minutes(1), "vid": f"{i:064x}"}, group=f"{account_id}:{i:064x}")
        for i in range(3)
    ]
    container.local_queue.send_batch(
        "ingest", [OutgoingMessage(poison(account_id), group_id=f"{account_id}:{VISITOR}", dedup_id="p"), *others]
    )
    drain(container, max_attempts=3)
    assert len(container.local_queue.dead_letters("ingest")) == 1
    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 3


def test_out_of_order_messages_never_move_activity_backwards(container: Container) -> None:
    account_id = account(container)
    container.local_queue.send_batch(
        "ingest",
        [
            events_message(account_id, {"at": minutes(40)}, {"at": minutes(45)}),
            events_message(account_id, {"at": minutes(44)}),
            events_message(
                account_id,
                {"at": minutes(0), "url": "https://shop.example/?utm_source=mail&utm_medium=email"},
                {"at": minutes(5)},
            ),
        ],
    )
    drain(container)
    with container.session() as db:
        sessions = db.scalars(select(VisitSession).order_by(VisitSession.started_at)).all()
        assert [(s.channel, s.page_view_count) for s in sessions] == [("email", 2), ("direct", 3)]
        assert sessions[0].last_activity_at == T0 + timedelta(minutes=5)
        assert sessions[1].last_activity_at == T0 + timedelta(minutes=45)
        visitor = db.scalars(select(Visitor)).one()
        assert (visitor.first_seen_at, visitor.last_seen_at) == (T0, T0 + timedelta(minutes=45))


def test_messages_for_an_unknown_account_are_dropped(container: Container) -> None:
    container.local_queue.send_batch("ingest", [events_message("acc_gone", {"at": minutes(0)})])
    drain(container)
    assert container.local_queue.dead_letters("ingest") == []
    with container.session() as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 0


def test_a_repeated_upsert_in_one_transaction_is_not_a_new_visitor(container: Container) -> None:
    """Regression: with CLIENT_FOUND_ROWS, MySQL reports 1 for an unchanged row as for an insert."""
    account_id = account(container)
    with container.session() as db:
        rules = tracking.load_rules(db, account_id)
        assert rules is not None
        tracker = tracking.Tracker(db, container.ids, T0, rules)
        first = tracker.ensure_visitor(VISITOR, T0, T0, sessions_since=T0)
        second = tracker.ensure_visitor(VISITOR, T0, T0, sessions_since=T0)
        mysql = db.get_bind().dialect.name in ("mysql", "mariadb")
        assert first.created is mysql  # SQLite cannot tell an insert from an update, so it never claims one
        assert second.created is False
        assert second.id == first.id


def _journeys(account_id: str) -> list[OutgoingMessage]:
    """Interleaved visitors; the same visitor in several messages of one batch; gaps, campaigns, repeats."""
    plan = [
        ("a", [(0, "https://shop.example/?utm_source=google&utm_medium=cpc"), (3, None)]),
        ("b", [(1, "https://shop.example/"), (2, None)]),
        ("a", [(5, None), (50, None)]),  # a 45-minute gap: a new session
        ("c", [(0, "https://shop.example/?utm_source=news&utm_medium=email")]),
        ("b", [(4, "https://shop.example/?utm_source=facebook&utm_medium=paid_social")]),  # campaign change
        ("a", [(51, None)]),
        ("c", [(2, None), (2, None)]),  # same instant twice
        ("b", [(100, None)]),
    ]
    messages = []
    for key, hits in plan:
        visitor = key * 64
        events = [{"at": minutes(at), "vid": visitor, **({"url": url} if url else {})} for at, url in hits]
        messages.append(events_message(account_id, *events, group=f"{account_id}:{visitor}"))
    return messages


def _outcome(container: Container, account_id: str) -> list[tuple[Any, ...]]:
    with container.session() as db:
        sessions = {
            s.id: (s.channel, s.started_at, s.last_activity_at, s.page_view_count)
            for s in db.scalars(select(VisitSession).where(VisitSession.account_id == account_id))
        }
        rows = db.execute(
            select(Visitor.visitor_key, Event.occurred_at, Event.session_id)
            .join(Visitor, Visitor.id == Event.visitor_id)
            .where(Event.account_id == account_id)
            .order_by(Visitor.visitor_key, Event.occurred_at, Event.id)
        ).all()
    return [(key, at, sessions[sid]) for key, at, sid in rows]


def test_the_set_based_batch_path_matches_message_by_message(container: Container) -> None:
    batched, single = account(container, "Batched"), account(container, "One by one")
    container.local_queue.send_batch("ingest", _journeys(batched))
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "ingest", handler, batch_size=10).received:
        pass
    container.local_queue.send_batch("ingest", _journeys(single))
    while deliver_once(container.local_queue, "ingest", handler, batch_size=1).received:
        pass
    batched_outcome, single_outcome = _outcome(container, batched), _outcome(container, single)
    assert len(batched_outcome) == 12
    assert batched_outcome == single_outcome
    channels = {(key[0], channel) for key, _, (channel, *_rest) in batched_outcome}
    assert {("a", "paid_search"), ("b", "paid_social"), ("c", "email")} <= channels


def _many_journeys(account_id: str, visitors: int) -> list[OutgoingMessage]:
    """``visitors`` visitors, five single-event messages each, interleaved (as a burst from SDKs arrives):
    a campaign landing, page views, a 40-minute gap (a new session), a page view in the new session."""
    messages = []
    for at, url in [
        (0, "https://shop.example/?utm_source=google&utm_medium=cpc"),
        (2, None),
        (4, None),
        (44, None),
        (45, None),
    ]:
        for v in range(visitors):
            visitor = f"{v:064x}"
            event = {"at": minutes(at + v / 100), "vid": visitor, **({"url": url} if url else {})}
            message = events_message(account_id, event, group=f"{account_id}:{visitor}")
            messages.append(message)
    return messages


def test_the_local_runners_big_ingest_batches_match_message_by_message(container: Container) -> None:
    """The local runner hands the ingest consumer up to ``local_ingest_batch_size`` messages at once (SQS: 10).
    Same stored visitors, sessions and events as one message per invocation, and a visitor's messages are
    still applied in order when several of them share one big batch."""
    from multibuzz import topology

    from infra.local.dispatch import local_batch_size

    (consumer,) = [c for c in topology.function("attribution").consumes if c.queue == "ingest"]
    size = local_batch_size(consumer, container.settings)
    assert size == container.settings.local_ingest_batch_size == 100
    big, single = account(container, "Big batches"), account(container, "One by one")
    handler = load_handler("attribution")
    container.local_queue.send_batch("ingest", _many_journeys(big, 30))
    sizes = []
    while report := deliver_once(container.local_queue, "ingest", handler, batch_size=size).received:
        sizes.append(report)
    assert sizes == [100, 50]
    container.local_queue.send_batch("ingest", _many_journeys(single, 30))
    while deliver_once(container.local_queue, "ingest", handler, batch_size=1).received:
        pass
    big_outcome, single_outcome = _outcome(container, big), _outcome(container, single)
    assert len(big_outcome) == 150
    assert big_outcome == single_outcome
    assert {session[3] for _, _, session in big_outcome} == {2, 3}  # every visitor: a 3-view and a 2-view session
