"""The redirect handler called directly with API Gateway v2 events: cache TTLs and failure modes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multibuzz.bootstrap import Container
from multibuzz.db.engine import make_engine
from multibuzz.db.models.influencer import TrackingLink
from multibuzz.redirect.cache import NEGATIVE_TTL, POSITIVE_TTL, LinkSnapshot, TtlCache
from multibuzz.redirect.service import Redirector
from multibuzz.services.context import Actor
from multibuzz.services.influencers import InfluencerService
from multibuzz.services.tenancy import Tenancy
from sqlalchemy import update


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(code: str, method: str = "GET", query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} /r/{{code}}",
        "rawPath": f"/r/{code}",
        "rawQueryString": query,
        "headers": headers or {"user-agent": "Mozilla/5.0"},
        "pathParameters": {"code": code},
        "requestContext": {"http": {"method": method, "path": f"/r/{code}", "sourceIp": "192.0.2.10"}},
        "isBase64Encoded": False,
    }


def make_link(container: Container) -> TrackingLink:
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        account = tenancy.create_account(None, "Direct")
        actor = Actor("usr_admin", "root@x.test", True, account.id, None)
        service = InfluencerService(session, container.clock, container.ids)
        campaign = service.create_campaign(actor, name="Direct", default_destination_url="https://shop.example/")
        influencer = service.create_influencer(actor, name="Dee", handle="dee")
        link = service.create_link(actor, campaign_id=campaign.id, influencer_id=influencer.id)
        session.commit()
        return link


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def redirector(container: Container, clock: FakeTime) -> Redirector:
    return Redirector(lambda: container, cache=TtlCache[LinkSnapshot](now=clock))


def disable_behind_the_cache(container: Container, link_id: str) -> None:
    with container.session() as session:
        session.execute(update(TrackingLink).where(TrackingLink.id == link_id).values(status="disabled"))
        session.commit()


def test_a_disabled_link_stops_redirecting_within_the_cache_ttl(
    container: Container, redirector: Redirector, clock: FakeTime
) -> None:
    link = make_link(container)
    assert redirector(event(link.code))["statusCode"] == 302
    disable_behind_the_cache(container, link.id)  # another process: this cache isn't told
    clock.now += POSITIVE_TTL - 1
    assert redirector(event(link.code))["statusCode"] == 302, "still inside the TTL"
    clock.now += 2
    assert redirector(event(link.code))["statusCode"] == 410
    assert POSITIVE_TTL <= 60


def test_unknown_codes_are_cached_briefly(container: Container, redirector: Redirector, clock: FakeTime) -> None:
    assert redirector(event("abcd2345"))["statusCode"] == 404
    assert len(redirector.cache) == 1 and redirector.cache.get("abcd2345") == (True, None)
    clock.now += NEGATIVE_TTL + 1
    assert redirector.cache.get("abcd2345") == (False, None)


def test_database_down_serves_stale_links_and_otherwise_a_503_page(
    container: Container, redirector: Redirector, clock: FakeTime
) -> None:
    link = make_link(container)
    assert redirector(event(link.code))["statusCode"] == 302
    container.__dict__["engine"] = make_engine("mysql+pymysql://nobody@127.0.0.1:9/none")
    clock.now += POSITIVE_TTL + 1
    stale = redirector(event(link.code))
    assert stale["statusCode"] == 302 and stale["headers"]["location"].endswith(f"ref_code={link.code}")
    unknown = redirector(event("zzzz2345"))
    assert unknown["statusCode"] == 503 and "text/html" in unknown["headers"]["content-type"]


def test_a_failure_while_recording_still_redirects(container: Container, redirector: Redirector) -> None:
    link = make_link(container)

    class Exploding:
        def send_batch(self, queue: str, messages: Any) -> Any:
            raise RuntimeError("unexpected")

    class BrokenSpool:
        def append(self, bodies: Any) -> None:
            raise OSError("disk full")

    container.__dict__["queue"] = Exploding()
    redirector._spools[id(container)] = BrokenSpool()  # type: ignore[assignment]
    response = redirector(event(link.code, headers={}))
    assert response["statusCode"] == 302
    redirector.flush()  # neither queue nor spool: logged, and nothing raises into the request


def test_head_is_redirected_and_the_click_message_carries_the_method(
    container: Container, redirector: Redirector
) -> None:
    link = make_link(container)
    response = redirector(event(link.code, method="HEAD"))
    assert response["statusCode"] == 302
    redirector.flush()
    (message,) = container.local_queue.receive("clicks", 10)
    body = json.loads(message.body)
    assert body["kind"] == "click.record" and body["id"].startswith("clk_")
    assert body["payload"]["method"] == "HEAD" and body["payload"]["ip"] == "192.0.2.0"
    assert "192.0.2.10" not in message.body, "the raw IP never reaches the queue"


def test_the_redirect_lookup_tables_match_the_orm_models() -> None:
    from multibuzz.db.models import Account
    from multibuzz.db.models.influencer import Campaign, TrackingLink
    from multibuzz.redirect import lookup

    for light, model in ((lookup._links, TrackingLink), (lookup._campaigns, Campaign), (lookup._accounts, Account)):
        table = model.__table__
        assert light.name == table.name
        for column in light.columns:
            assert column.name in table.columns, f"{table.name}.{column.name}"
