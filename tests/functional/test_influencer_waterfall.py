"""resolve_influencer against the database: the waterfall the conversions consumer calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from multibuzz.bootstrap import Container
from multibuzz.services.context import Actor
from multibuzz.services.influencers import InfluencerService
from multibuzz.services.tenancy import Tenancy
from multibuzz.services.waterfall import TouchRef, resolve_influencer
from sqlalchemy.orm import Session

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


@dataclass
class World:
    account_id: str
    anna: str
    ben: str
    campaign: str
    anna_link: str
    anna_code: str
    ben_code: str
    ben_coupon: str


def build(session: Session, container: Container, name: str) -> World:
    tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
    account = tenancy.create_account(None, name)
    actor = Actor("usr_admin", "root@x.test", True, account.id, None)
    service = InfluencerService(session, container.clock, container.ids)
    campaign = service.create_campaign(actor, name="Spring", default_destination_url="https://shop.example/")
    anna = service.create_influencer(actor, name="Anna", handle="anna")
    ben = service.create_influencer(actor, name="Ben", handle="ben")
    anna_link = service.create_link(actor, campaign_id=campaign.id, influencer_id=anna.id)
    ben_link = service.create_link(actor, campaign_id=campaign.id, influencer_id=ben.id)
    ben_coupon = service.create_coupon(actor, code="Ben10", campaign_id=campaign.id, influencer_id=ben.id)
    service.create_coupon(actor, code="WELCOME", campaign_id=campaign.id)
    session.flush()
    return World(account.id, anna.id, ben.id, campaign.id, anna_link.id, anna_link.code, ben_link.code, ben_coupon.id)


@pytest.fixture
def session(container: Container) -> Session:
    with container.session() as s:
        yield s  # type: ignore[misc]


def test_influencer_coupon_gets_100_percent_even_with_another_ref_code(session: Session, container: Container) -> None:
    w = build(session, container, "Coupon wins")
    touches = [TouchRef("ses_1", f"https://shop.example/?ref_code={w.anna_code}", None, T0)]
    credit = resolve_influencer(session, w.account_id, coupon_code="BEN10", ref_code=w.anna_code, touches=touches)
    assert credit is not None
    assert (credit.method, credit.confidence, credit.influencer_id) == ("coupon", 1.0, w.ben)
    assert (credit.coupon_id, credit.campaign_id, credit.link_id, credit.code) == (
        w.ben_coupon,
        w.campaign,
        None,
        "Ben10",
    )


def test_generic_coupon_and_ref_code_in_the_landing_url_credit_the_links_influencer(
    session: Session, container: Container
) -> None:
    w = build(session, container, "Generic")
    touches = [
        TouchRef("ses_old", "https://shop.example/", "https://google.com/", T0 - timedelta(days=3)),
        TouchRef("ses_new", f"https://shop.example/p?utm_source=anna&ref_code={w.anna_code}#x", None, T0),
    ]
    credit = resolve_influencer(session, w.account_id, coupon_code="welcome", ref_code=None, touches=touches)
    assert credit is not None
    assert (credit.method, credit.influencer_id, credit.link_id) == ("landing_url", w.anna, w.anna_link)
    assert (credit.session_id, credit.confidence, credit.coupon_id) == ("ses_new", 0.7, None)


def test_explicit_ref_code_invalidated_coupon_unknown_codes_and_nothing(session: Session, container: Container) -> None:
    w = build(session, container, "Rules")
    explicit = resolve_influencer(session, w.account_id, coupon_code=None, ref_code=w.ben_code.upper(), touches=[])
    assert explicit is not None and (explicit.method, explicit.influencer_id, explicit.confidence) == (
        "ref_code",
        w.ben,
        0.9,
    )
    service = InfluencerService(session, container.clock, container.ids)
    service.invalidate_coupon(Actor("usr_admin", "root@x.test", True, w.account_id, None), w.ben_coupon)
    fell = resolve_influencer(session, w.account_id, coupon_code="BEN10", ref_code=w.anna_code, touches=[])
    assert fell is not None and (fell.method, fell.influencer_id) == ("ref_code", w.anna)
    assert resolve_influencer(session, w.account_id, coupon_code="NOPE", ref_code="zzzz9999", touches=[]) is None
    assert resolve_influencer(session, w.account_id, coupon_code=None, ref_code=None, touches=[]) is None


def test_codes_of_another_tenant_never_match(session: Session, container: Container) -> None:
    a = build(session, container, "Tenant A")
    b = build(session, container, "Tenant B")
    touches = [TouchRef("ses_1", f"https://shop.example/?ref_code={b.anna_code}", None, T0)]
    assert resolve_influencer(session, a.account_id, coupon_code=None, ref_code=b.ben_code, touches=touches) is None
    own = resolve_influencer(session, a.account_id, coupon_code="ben10", ref_code=None, touches=[])
    assert own is not None and own.influencer_id == a.ben, "the same coupon code in A is A's coupon"
