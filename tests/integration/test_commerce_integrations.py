"""The generic integration service: connect, secrets (encrypted at rest), sync runs, cursors, isolation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.commerce import integrations as svc
from multibuzz.db.models import Account, IntegrationSecret
from multibuzz.db.models.commerce import SyncRun
from multibuzz.errors import NotFoundError
from sqlalchemy import select


def _account(container: Container, account_id: str) -> str:
    with container.session() as session:
        session.add(Account(id=account_id, name=account_id, slug=account_id, created_at=container.clock.now()))
        session.commit()
    return account_id


def _tools(container: Container) -> svc.Tools:
    return svc.Tools(container.clock, container.ids, container.secret_box)


def test_secret_is_encrypted_at_rest_read_back_and_deleted_on_disconnect(container: Container) -> None:
    account = _account(container, "acc_a")
    tools = _tools(container)
    with container.session() as session:
        integration = svc.connect(session, tools, account_id=account, type="shopify", external_id="a.myshopify.com")
        svc.store_secret(session, tools, integration, "shpat_secret_value")
        session.commit()
        stored = session.scalar(select(IntegrationSecret.ciphertext))
        assert stored is not None and "shpat_secret_value" not in stored
        assert svc.read_secret(session, tools.box, integration.id) == "shpat_secret_value"
        svc.disconnect(session, tools, integration)
        session.commit()
        assert svc.read_secret(session, tools.box, integration.id) is None
        assert svc.get_integration(session, account, integration.id).status == "disconnected"
        again = svc.connect(session, tools, account_id=account, type="shopify", external_id="a.myshopify.com")
        assert again.id == integration.id and again.status == "connected"


def test_other_tenants_integration_is_not_found(container: Container) -> None:
    a, b = _account(container, "acc_a"), _account(container, "acc_b")
    tools = _tools(container)
    with container.session() as session:
        integration = svc.connect(session, tools, account_id=a, type="meta", external_id="act_1")
        session.commit()
        with pytest.raises(NotFoundError):
            svc.get_integration(session, b, integration.id)
        assert svc.list_integrations(session, b) == []
        assert [i.id for i in svc.list_integrations(session, a)] == [integration.id]


def test_runs_and_cursors(container: Container) -> None:
    account = _account(container, "acc_a")
    tools = _tools(container)
    with container.session() as session:
        integration = svc.connect(session, tools, account_id=account, type="shopify", external_id="a.myshopify.com")
        ok = svc.start_run(session, tools, integration, "shopify_fresh", "schedule")
        svc.finish_run(session, tools, ok, rows=3)
        ok.started_at -= timedelta(minutes=15)
        bad = svc.start_run(session, tools, integration, "shopify_fresh", "manual")
        svc.finish_run(session, tools, bad, rows=0, error_message="Shopify refused the token (401)")
        assert svc.read_cursor(session, integration.id, "orders_updated_at") is None
        svc.advance_cursor(session, tools, integration, "orders_updated_at", "2026-01-01T00:00:00Z")
        svc.advance_cursor(session, tools, integration, "orders_updated_at", "2026-01-02T00:00:00Z", {"page": None})
        session.commit()
        cursor = svc.read_cursor(session, integration.id, "orders_updated_at")
        assert cursor is not None and cursor.value == "2026-01-02T00:00:00Z"
        latest = svc.latest_runs(session, integration.id)["shopify_fresh"]
        assert latest["attempted"] is not None and latest["attempted"].id == bad.id
        assert latest["attempted"].error_message == "Shopify refused the token (401)"
        assert latest["succeeded"] is not None and latest["succeeded"].rows == 3


def _latest_runs_by_full_scan(session: Any, integration_id: str) -> dict[str, dict[str, Any]]:
    """The code latest_runs replaced: every run of the integration, newest first (the reference)."""
    out: dict[str, dict[str, Any]] = {}
    for run in session.scalars(
        select(SyncRun).where(SyncRun.integration_id == integration_id).order_by(SyncRun.started_at.desc())
    ):
        entry = out.setdefault(run.type, {"attempted": run, "succeeded": None})
        if entry["succeeded"] is None and run.status == "succeeded":
            entry["succeeded"] = run
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_latest_runs_reads_a_bounded_few_rows_and_answers_as_the_full_scan(container: Container, seed: int) -> None:
    """Long random histories (distinct start times): a failing or running head, types never succeeded, another
    integration's runs beside; the bounded queries pick the very runs the full scan picks."""
    rng = random.Random(seed)
    account = _account(container, "acc_a")
    tools = _tools(container)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with container.session() as session:
        shop = svc.connect(session, tools, account_id=account, type="shopify", external_id="a.myshopify.com")
        meta = svc.connect(session, tools, account_id=account, type="meta", external_id="act_1")
        session.commit()
        minutes = rng.sample(range(100_000), 600)
        for i, minute in enumerate(minutes):
            integration = shop if i % 3 else meta
            kinds = ("shopify_fresh", "shopify_7d_fill") if integration is shop else ("meta_fresh", "meta_7d_fill")
            session.add(
                SyncRun(
                    id=f"syn_{seed}_{i:05d}",
                    account_id=account,
                    integration_id=integration.id,
                    type=rng.choice(kinds) if seed != 3 else kinds[0],
                    trigger="schedule",
                    status=rng.choice(["succeeded", "succeeded", "failed", "running"] if seed != 2 else ["failed"]),
                    started_at=base + timedelta(minutes=minute),
                    rows=i,
                )
            )
        session.commit()
        for integration in (shop, meta):
            expected = _latest_runs_by_full_scan(session, integration.id)
            got = svc.latest_runs(session, integration.id)
            assert {t: {k: r.id if r else None for k, r in e.items()} for t, e in got.items()} == {
                t: {k: r.id if r else None for k, r in e.items()} for t, e in expected.items()
            }
            assert expected, "the history is not empty"
        assert svc.latest_runs(session, "int_none") == {}
        both = svc.latest_runs_of(session, [(i.id, t) for i in (shop, meta) for t in svc.SYNC_TYPES])
        for (integration_id, sync_type), entry in both.items():  # one query for every integration at once
            reference = _latest_runs_by_full_scan(session, integration_id)[sync_type]
            assert {k: r.id if r else None for k, r in entry.items()} == {
                k: r.id if r else None for k, r in reference.items()
            }
        assert len(both) == sum(len(_latest_runs_by_full_scan(session, i.id)) for i in (shop, meta))
