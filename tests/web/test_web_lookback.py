"""The Attribution lookback: ``GET /api/v1/attributions?lookback_days=N`` recomputes the ten models with each
conversion's touches restricted to N days, through the consumer's own engine; the page's picker shows the
same numbers. The world (tests/web/world.py): organic search 12 days ago, paid social 5 days ago, email just
now; a 40 USD signup 10 days ago and a 99 USD purchase now by that visitor; a 50 USD coupon sale by another.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.db.models import Account, AttributionCredit, Conversion
from multibuzz.errors import InvalidInputError
from multibuzz.services import lookback
from multibuzz.services.lookback import recomputed_rows
from sqlalchemy import select

from tests.conftest import Api
from tests.web.helpers import WebClient
from tests.web.pages import api_table, attribution_table, window
from tests.web.world import VISITOR, World, _post, _visit, build, drain


@pytest.fixture
def world(api: Api, container: Container) -> World:
    return build(api, container)


def _report(api: Api, token: str, **params: Any) -> dict[str, Any]:
    response = api.client.get("/api/v1/attributions", params=params, headers=api.auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _revenue(report: dict[str, Any], model: str) -> dict[str, str]:
    return {str(r["group"]): r["revenue"] for r in report["models"][model]}


def test_the_accounts_own_lookback_gives_the_stored_credits(api: Api, world: World, container: Container) -> None:
    token = world.tenant.owner_token
    stored = _report(api, token)
    same = _report(api, token, lookback_days=30)  # the account default every stored credit used
    assert stored["lookback_days"] is None and same["lookback_days"] == 30
    assert same["recomputed_conversions"] == 0
    assert same["models"] == stored["models"]
    for group_by in ("campaign", "source"):
        assert (
            _report(api, token, lookback_days=30, group_by=group_by)["models"]
            == (_report(api, token, group_by=group_by)["models"])
        )
    # the shortcut (stored rows reused) equals a real recomputation with the same lookback, row for row
    with container.session() as session:
        conversions = list(session.scalars(select(Conversion).where(Conversion.account_id == world.tenant.account_id)))
        assert len(conversions) == 3
        settings = dict(session.scalar(select(Account.settings).where(Account.id == world.tenant.account_id)) or {})
        fresh = recomputed_rows(session, conversions, settings, 30)
        key = ("conversion_id", "model", "position", "session_id", "channel", "utm_campaign", "credit")
        got = sorted((tuple(r[k] for k in key), r["revenue_credit"]) for r in fresh)
        kept = sorted(
            (
                (c.conversion_id, c.model, c.position, c.session_id, c.channel, c.utm_campaign, c.credit),
                c.revenue_credit,
            )
            for c in session.scalars(
                select(AttributionCredit).where(AttributionCredit.account_id == world.tenant.account_id)
            )
        )
        assert [(k, Decimal(v)) for k, v in got] == [(k, Decimal(v)) for k, v in kept]


def test_a_touch_older_than_a_shorter_lookback_loses_its_credit(api: Api, world: World) -> None:
    token = world.tenant.owner_token
    month = _report(api, token)
    week = _report(api, token, lookback_days=7)
    assert week["lookback_days"] == 7 and week["recomputed_conversions"] == 3
    # 30 days: the purchase's three touches share it; organic search also got the signup (its only touch)
    assert _revenue(month, "linear")["organic_search"] == "73.00"  # 40 + 33.00
    assert _revenue(month, "first_touch")["organic_search"] == "139.00"
    # 7 days: organic search (12 days before the purchase) drops out of the purchase, not out of the signup
    linear = _revenue(week, "linear")
    assert (linear["organic_search"], linear["paid_social"], linear["email"]) == ("40.00", "49.50", "49.50")
    first = _revenue(week, "first_touch")
    assert (first["organic_search"], first["paid_social"]) == ("40.00", "99.00") and "email" not in first
    last = _revenue(week, "last_touch")
    assert (last["organic_search"], last["email"]) == ("40.00", "99.00") and "paid_social" not in last
    for model, rows in week["models"].items():  # every model recomputed, still the whole revenue
        assert sum(Decimal(r["revenue"]) for r in rows) == (
            Decimal("189.00") if model != "participation" else sum(Decimal(r["revenue"]) for r in rows)
        ), model
    one = _report(api, token, lookback_days=7, model="linear")
    assert list(one["models"]) == ["linear"] and one["models"]["linear"] == week["models"]["linear"]


@pytest.mark.parametrize("value", ["0", "366", "-3", "abc", "7.5"])
def test_bad_lookbacks_are_422_naming_lookback_days(api: Api, world: World, web: WebClient, value: str) -> None:
    response = api.client.get(
        "/api/v1/attributions", params={"lookback_days": value}, headers=api.auth(world.tenant.owner_token)
    )
    assert response.status_code == 422, response.text
    assert "lookback_days" in response.text
    web.login(world.tenant.owner_email)
    page = web.get(f"/app/attribution?lookback_days={value}")
    assert page.status_code == 422 and "lookback_days" in page.text


def test_another_accounts_conversions_are_never_recomputed_in(api: Api, world: World, container: Container) -> None:
    token = world.tenant.owner_token
    before = _report(api, token, lookback_days=7)
    other = api.tenant("Other Store")  # the same visitor id, another account
    _visit(api, other, VISITOR, "https://other.example/?utm_source=newsletter&utm_medium=email", 3)
    drain(container)
    body = {"conversion_type": "purchase", "visitor_id": VISITOR, "revenue": "500", "currency": "USD"}
    _post(api, other.api_key, "/api/v1/conversions", body, 202)
    _post(api, other.api_key, "/api/v1/conversions", {**body, "revenue": "20", "lookback_days": 7}, 202)
    drain(container)
    after = _report(api, token, lookback_days=7)
    assert after == before and after["recomputed_conversions"] == 3
    theirs = _report(api, other.owner_token, lookback_days=7)
    assert theirs["recomputed_conversions"] == 1, "the one stored with a 7-day lookback is summed, not recomputed"
    assert theirs["models"]["linear"][0]["conversions_touched"] == 2
    assert _report(api, other.owner_token, lookback_days=30)["recomputed_conversions"] == 1
    assert {m: _revenue(theirs, m) for m in ("first_touch", "linear")} == {
        "first_touch": {"email": "520.00"},
        "linear": {"email": "520.00"},
    }, "only its own touch: the other account's organic search and paid social are not its journey"


def test_the_page_has_the_lookback_picker_and_the_apis_numbers(api: Api, world: World, web: WebClient) -> None:
    web.login(world.tenant.owner_email)
    default = web.get("/app/attribution?range=30d")
    assert 'data-testid="lookback-picker"' in default.text and 'data-testid="lookback-note"' not in default.text
    for days in ("7", "14", "30", "60", "90"):
        assert f'<option value="{days}">{days} days</option>' in default.text
    assert '<option value="" selected>account default</option>' in default.text
    page = web.get("/app/attribution?range=30d&lookback_days=7")
    assert page.status_code == 200
    assert '<option value="7" selected>7 days</option>' in page.text
    assert 'data-testid="lookback-note" data-lookback="7"' in page.text
    assert 'name="lookback_days" value="7"' in page.text, "the date picker keeps the lookback in the URL"
    start, end = window(page.text)
    shown = attribution_table(page.text)
    report = _report(api, world.tenant.owner_token, **{"from": start, "to": end, "lookback_days": 7})
    assert shown == api_table(report)
    assert shown != attribution_table(default.text)
    assert shown[("linear", "paid_social", "USD")] == Decimal("49.50")


def test_the_work_is_bounded_with_a_422_naming_lookback_days(
    world: World, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookback, "MAX_RECOMPUTED", 2)  # the world has 3 attributed conversions
    query = select(Conversion).where(Conversion.account_id == world.tenant.account_id)
    with container.session() as session:
        with pytest.raises(InvalidInputError) as refused:
            lookback.lookback_totals(session, query, world.tenant.account_id, 7, "channel", None)
        assert refused.value.field == "lookback_days" and refused.value.status == 422
        monkeypatch.setattr(lookback, "MAX_RECOMPUTED", 3)
        totals, recomputed = lookback.lookback_totals(session, query, world.tenant.account_id, 7, "channel", None)
    assert recomputed == 3 and totals[("linear", "USD", "paid_social")][1] == Decimal("49.50")
