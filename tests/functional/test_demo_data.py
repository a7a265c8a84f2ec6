"""``make serve`` demo data: a served stack fills the demo account through the real ingestion path (traffic
across channels, influencer clicks and coupon sales, fake-store orders, fake Meta spend) once; a second start
adds nothing; ``MULTIBUZZ_DEMO_DATA=false`` adds nothing at all."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from multibuzz.db.models import Conversion, Event, ProcessedMessage, VisitSession
from multibuzz.db.models.commerce import FactMetaDaily, FactOrder, Integration
from multibuzz.db.models.influencer import Campaign, Click
from multibuzz.demo.loader import MARKER_KIND
from sqlalchemy import Engine, func, select

from tests.functional.served import ServedStack, wait_until

DEMO_KEY = "sk_live_" + "D3m0" * 10
PASSWORD = "demo-password-123"
COUNTED = (Event, VisitSession, Conversion, Click, FactOrder, FactMetaDaily, Campaign, Integration)


def _stack(data_dir: Path, database_url: str, **env: str) -> ServedStack:
    return ServedStack(
        data_dir,
        env_overrides={
            "MULTIBUZZ_DATABASE_URL": database_url,
            "MULTIBUZZ_DEMO_API_KEY": DEMO_KEY,
            "MULTIBUZZ_DEMO_ADMIN_EMAIL": "boss@demo.test",
            "MULTIBUZZ_DEMO_ADMIN_PASSWORD": PASSWORD,
            "MULTIBUZZ_DEMO_DATA": "true",
            "MULTIBUZZ_DEMO_DAYS": "3",
            "MULTIBUZZ_DEMO_VISITORS_PER_DAY": "10",
            "MULTIBUZZ_REPORTS_REFRESH_MIN_SECONDS": "0",
            **env,
        },
    )


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {m.__tablename__: int(conn.scalar(select(func.count()).select_from(m)) or 0) for m in COUNTED}


def _marked(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.scalar(select(func.count()).where(ProcessedMessage.kind == MARKER_KIND)))


def _get(stack: ServedStack, token: str, path: str, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.base}{path}", params=params, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _login(stack: ServedStack) -> str:
    login = httpx.post(f"{stack.base}/api/v1/auth/login", json={"email": "boss@demo.test", "password": PASSWORD})
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


def _settled(stack: ServedStack, token: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """The three reads once the queues have caught up (every number the test needs non-zero), else None."""
    overview = _get(stack, token, "/api/v1/stats/overview")["current"]
    channels = _get(stack, token, "/api/v1/stats/channels", model="linear")
    home = _get(stack, token, "/api/v1/dashboard/home")["kpis"]
    credited = [c for c in channels["data"] if Decimal(c["models"]["linear"]["revenue"]) > 0]
    done = (
        overview["sessions"] > 0
        and overview["clicks"] > 0
        and overview["events"].get("purchase", 0) > 0
        and len(credited) >= 3
        and home["orders"] > 0
        and Decimal(home["spend"]) > 0
    )
    return (overview, channels, home) if done else None


def test_demo_data_fills_every_page_once(tmp_path: Path, database_url: str, db_clean: Engine) -> None:
    stack = _stack(tmp_path / "data", database_url)
    try:
        stack.start()
        assert stack.wait_healthy().json() == {"db": "ok"}  # answers before the demo traffic is loaded
        wait_until(lambda: _marked(db_clean), 180, f"demo data loaded\n{stack.log_path.read_text()[-3000:]}")
        token = _login(stack)
        reads: list[Any] = []
        wait_until(lambda: reads.append(_settled(stack, token)) or reads[-1] is not None, 120, "numbers appear")
        overview, channels, home = reads[-1]
        assert overview["visitors"] > 0 and overview["conversions"] > 0 and Decimal(overview["revenue"]) > 0
        assert overview["events"]["page_view"] > 0 and overview["events"].get("add_to_cart", 0) > 0
        kinds = {c["channel"] for c in channels["data"] if Decimal(c["models"]["linear"]["revenue"]) > 0}
        assert len(kinds) >= 3, channels
        assert channels["currency"] == home.get("currency", channels["currency"])
        assert Decimal(home["spend"]) > 0 and home["orders"] > 0 and Decimal(home["revenue_net"]) > 0
        meta = _get(stack, token, "/api/v1/dashboard/meta")
        assert {c["campaign_name"] for c in meta["campaigns"]} >= {"Spring Sale", "Retargeting"}, meta["campaigns"]
        influencers = _get(stack, token, "/api/v1/stats/per-influencer")
        # influencer clicks and coupon sales are credited to the demo influencers
        assert any(r["influencer_id"] and Decimal(r["revenue"]) > 0 for r in influencers["data"]), influencers
        # Let the queues drain (counts steady), then restart over the same data.
        before: list[dict[str, int]] = [_counts(db_clean)]

        def steady() -> bool:
            time.sleep(1)
            before.append(_counts(db_clean))
            return before[-1] == before[-2]

        wait_until(steady, 60, "queues drain")
        sessions = _get(stack, token, "/api/v1/stats/overview")["current"]["sessions"]
    finally:
        stack.cleanup()
    again = _stack(tmp_path / "data", database_url)
    try:
        again.start()
        again.wait_healthy()
        wait_until(lambda: "demo data already loaded" in again.log_path.read_text(), 60, "second start checks")
        token = _login(again)
        assert _get(again, token, "/api/v1/stats/overview")["current"]["sessions"] == sessions
        assert _counts(db_clean) == before[-1], "a second start adds nothing"
    finally:
        again.cleanup()


def test_demo_data_off_adds_nothing(tmp_path: Path, database_url: str, db_clean: Engine) -> None:
    stack = _stack(tmp_path / "data", database_url, MULTIBUZZ_DEMO_DATA="false")
    try:
        stack.start()
        stack.wait_healthy()
        wait_until(stack.children, 30, "serve is fully up (the click shipper started)")
        time.sleep(3)  # the loader, were it on, starts right after the first healthy answer
        counts = _counts(db_clean)
        assert not any(counts.values()), counts
        assert not _marked(db_clean)
        assert "demo data" not in stack.log_path.read_text()
    finally:
        stack.cleanup()
