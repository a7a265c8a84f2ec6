"""The local runtime drives the real handlers: queue → attribution consumer, schedule → sync."""

from __future__ import annotations

import time
from datetime import timedelta

from multibuzz import topology
from multibuzz.adapters.queue.base import OutgoingMessage
from multibuzz.bootstrap import Container
from multibuzz.consumers.envelope import Envelope
from multibuzz.db.models import ApiKey, ProcessedMessage
from multibuzz.services.tenancy import Tenancy
from sqlalchemy import select

from infra.local.dispatch import ConsumerThread, deliver_once, load_handler
from infra.local.runtime import LocalRuntime
from infra.local.scheduler import eventbridge_event, fire


def test_unknown_message_kind_is_retried_then_dead_lettered(container: Container) -> None:
    store = container.local_queue
    poison = Envelope(kind="no.such.kind", id="m1", account_id="acc_x").dumps()
    store.send_batch("ingest", [OutgoingMessage(poison, group_id="vis_1", dedup_id="m1")])
    handler = load_handler("attribution")
    reports = [deliver_once(store, "ingest", handler, max_attempts=3, backoff_seconds=0) for _ in range(3)]
    assert [r.retried for r in reports] == [1, 1, 0] and reports[-1].dead == 1
    dead = store.dead_letters("ingest")
    assert len(dead) == 1 and dead[0].body == poison


def test_malformed_message_body_does_not_block_the_rest_of_a_standard_batch(container: Container) -> None:
    store = container.local_queue
    store.send_batch("clicks", [OutgoingMessage("{not json"), OutgoingMessage("[]")])
    report = deliver_once(store, "clicks", load_handler("attribution"), max_attempts=1)
    assert report.dead == 2 and store.depth("clicks") == 0


def test_background_consumers_pick_up_messages(container: Container) -> None:
    runtime = LocalRuntime(container, run_schedules=False)
    runtime.start()
    try:
        # Batch sizes as SQS hands them (topology), except the ingest queue's: the local runner's own.
        sizes = {t.consumer.queue: t.batch_size for t in runtime.threads if isinstance(t, ConsumerThread)}
        assert sizes["ingest"] == container.settings.local_ingest_batch_size == 100
        assert sizes["clicks"] == 100 and sizes["privacy"] == 1
        bad = Envelope(kind="no.such.kind", id="m2", account_id="acc_x").dumps()
        container.local_queue.send_batch("clicks", [OutgoingMessage(bad)])
        deadline = time.monotonic() + 20
        while not container.local_queue.dead_letters("clicks") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [d.body for d in container.local_queue.dead_letters("clicks")] == [bad]
    finally:
        runtime.stop()


def test_retention_schedule_fires_an_eventbridge_event_into_sync(container: Container) -> None:
    schedule = next(s for f in topology.FUNCTIONS for s in f.schedules if s.name == "retention")
    event = eventbridge_event(schedule)
    assert event["detail-type"] == "multibuzz.retention" and event["source"] == "aws.events"

    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account = tenancy.create_account(None, "Retention")
        old, _, _ = tenancy._insert_key(account.id, "old", "live", False, None, None)
        keep, _, _ = tenancy._insert_key(account.id, "recent", "live", False, None, None)
        old.revoked_at = container.clock.now() - timedelta(days=400)
        keep.revoked_at = container.clock.now() - timedelta(days=10)
        for name, age in (("msg-old", 20), ("msg-new", 1)):
            session.add(
                ProcessedMessage(
                    id=name, account_id=account.id, kind="k", processed_at=container.clock.now() - timedelta(days=age)
                )
            )
        session.commit()
    result = fire("sync", schedule)
    assert result["job"] == "multibuzz.retention"
    counts = result["result"]
    assert (counts["revoked_api_keys_deleted"], counts["inbox_entries_deleted"]) == (1, 1)
    # Raw tracking retention ran too (multibuzz.privacy.retention): nothing here is past its window.
    assert counts["statements"] >= 1 and not any(
        k.endswith("_deleted") and v
        for k, v in counts.items()
        if k not in ("revoked_api_keys_deleted", "inbox_entries_deleted")
    )
    with container.session() as session:
        assert [k.name for k in session.scalars(select(ApiKey))] == ["recent"]
        assert [m.id for m in session.scalars(select(ProcessedMessage))] == ["msg-new"]


def test_model_refit_schedule_fits_every_active_account(container: Container) -> None:
    from multibuzz.db.models import ModelFit

    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        tenancy.create_account(None, "Active One")
        off = tenancy.create_account(None, "Switched Off")
        off.status = "deactivated"
        session.commit()
    schedule = next(s for f in topology.FUNCTIONS for s in f.schedules if s.name == "model-refit")
    result = fire("sync", schedule)
    assert result["result"] == {"accounts_refit": 1, "accounts_failed": []}
    with container.session() as session:
        fits = session.scalars(select(ModelFit)).all()
        assert sorted(f.model for f in fits) == ["markov", "shapley"]
        assert all(f.version == 1 and f.conversions == 0 for f in fits)
