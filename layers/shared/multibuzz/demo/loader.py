"""Load the demo traffic into the demo account through the real ingestion path, once per database.

``make serve`` starts :func:`start_in_background` after its gateway is up: it waits for the first healthy
answer, makes the demo influencers (campaign, influencers, coupons, tracking links), sends the plan of
:mod:`multibuzz.demo.traffic` to the local gateway with the demo API key (sessions, events, unified
purchases; influencer visits click the real ``/r/{code}`` redirect first), connects the fake Meta ad account
and fills its spend, then records a marker row so a later start adds nothing. Every id is derived from the
seed, so an interrupted load that is started again is deduplicated by the ingestion API's natural keys.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from multibuzz.db.models import Account, Membership, ProcessedMessage
from multibuzz.db.models.influencer import Campaign, Coupon, Influencer, TrackingLink
from multibuzz.demo import traffic
from multibuzz.observability import get_logger
from multibuzz.services.context import Actor
from multibuzz.services.influencers import InfluencerService

if TYPE_CHECKING:
    from multibuzz.bootstrap import Container

logger = get_logger("demo")
MARKER_KIND = "demo_data"
CAMPAIGN_SLUG = "demo-creators"
#: (name, handle, coupon code) of the demo influencers.
INFLUENCERS = (("Ria Style", "@ria.style", "RIA15"), ("Milo Outdoors", "@milo.outdoors", "MILO10"))


def marker_id(account_id: str) -> str:
    return f"demo-data:{account_id}"


def is_loaded(container: Container, account_id: str) -> bool:
    with container.session() as session:
        return session.get(ProcessedMessage, marker_id(account_id)) is not None


@dataclass(frozen=True)
class Fixtures:
    link_codes: list[str]
    coupon_codes: list[str]


@dataclass
class DemoLoader:
    container: Container
    account_id: str
    api_key: str
    base: str  # the local gateway, http://host:port
    stop: threading.Event

    def run(self) -> dict[str, Any]:
        if is_loaded(self.container, self.account_id):
            logger.info("demo data already loaded", extra={"account_id": self.account_id})
            return {"status": "already_loaded"}
        settings = self.container.settings
        with httpx.Client(base_url=self.base, timeout=30, headers={"user-agent": traffic.USER_AGENT}) as http:
            if not self._wait_healthy(http):
                return {"status": "stopped"}
            fixtures = self.ensure_fixtures()
            from multibuzz.commerce.demo import DEMO_META_CAMPAIGNS

            plan = traffic.plan(
                seed=settings.demo_seed,
                now=self.container.clock.now(),
                days=settings.demo_days,
                visitors_per_day=settings.demo_visitors_per_day,
                meta_campaigns=[traffic.MetaCampaign(i, n) for i, n in DEMO_META_CAMPAIGNS],
                link_codes=fixtures.link_codes,
                coupon_codes=fixtures.coupon_codes,
            )
            currency = self._currency()
            for journey in plan.journeys:
                if self.stop.is_set():
                    return {"status": "stopped"}
                self.send(http, journey, currency)
        from multibuzz.commerce.demo import connect_demo_ad_account

        try:
            connect_demo_ad_account(self.container, self.account_id, settings.demo_days)
        except Exception:  # the traffic stands without spend; the scheduled Meta sync retries the fill
            logger.exception("demo ad account not connected")
        self._mark()
        summary = {"status": "loaded", "journeys": len(plan.journeys), "purchases": plan.purchases}
        logger.info("demo data loaded", extra={"account_id": self.account_id, **summary})
        return summary

    # -- steps -------------------------------------------------------------------------------------------
    def _wait_healthy(self, http: httpx.Client, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                if http.get("/api/health-lite", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            self.stop.wait(0.2)
        return False

    def _currency(self) -> str:
        with self.container.session() as session:
            return session.get_one(Account, self.account_id).currency

    def ensure_fixtures(self) -> Fixtures:
        """The demo campaign, influencers, their coupons and tracking links (made once, found later)."""
        c = self.container
        with c.session() as session:
            owner = session.scalar(
                select(Membership).where(Membership.account_id == self.account_id, Membership.role == "owner")
            )
            assert owner is not None, "seed_demo makes the demo account's owner"
            actor = Actor(owner.user_id, "", False, self.account_id, "owner")
            service = InfluencerService(session, c.clock, c.ids, c.settings.base_url)
            campaign = session.scalar(
                select(Campaign).where(Campaign.account_id == self.account_id, Campaign.slug == CAMPAIGN_SLUG)
            )
            if campaign is None:
                campaign = service.create_campaign(
                    actor,
                    name="Creators",
                    slug=CAMPAIGN_SLUG,
                    default_destination_url=f"{traffic.SITE}/collections/new",
                )
            links, coupons = [], []
            for name, handle, code in INFLUENCERS:
                influencer = session.scalar(
                    select(Influencer).where(Influencer.account_id == self.account_id, Influencer.name == name)
                )
                if influencer is None:
                    influencer = service.create_influencer(actor, name=name, handle=handle)
                if (
                    session.scalar(select(Coupon).where(Coupon.account_id == self.account_id, Coupon.code == code))
                    is None
                ):
                    service.create_coupon(actor, code=code, campaign_id=campaign.id, influencer_id=influencer.id)
                link = session.scalar(
                    select(TrackingLink).where(
                        TrackingLink.account_id == self.account_id, TrackingLink.influencer_id == influencer.id
                    )
                )
                if link is None:
                    link = service.create_link(actor, campaign_id=campaign.id, influencer_id=influencer.id)
                links.append(link.code)
                coupons.append(code)
            session.commit()
        return Fixtures(links, coupons)

    def send(self, http: httpx.Client, journey: traffic.Journey, currency: str) -> None:
        """One visitor's visits and purchase, in order (the ingest queue keeps a visitor's order)."""
        auth = {"authorization": f"Bearer {self.api_key}"}
        for visit in journey.visits:
            url = visit.url
            if visit.link_code:
                headers = {"referer": visit.referrer or "", "user-agent": journey.user_agent}
                click = self._call(http, "GET", f"/r/{visit.link_code}", headers=headers)
                url = click.headers.get("location") or url
            hit = {
                "visitor_id": journey.visitor_id,
                "session_id": visit.session_id,
                "url": url,
                "referrer": visit.referrer,
                "user_agent": journey.user_agent,
                "started_at": visit.started_at.isoformat(),
            }
            self._call(http, "POST", "/api/v1/sessions", json={"session": hit}, headers=auth)
            events = [self._event("page_view", journey, visit, url, 0)]
            if visit.add_to_cart:
                events.append(self._event("add_to_cart", journey, visit, url, 1))
            self._call(http, "POST", "/api/v1/events", json={"events": events}, headers=auth)
        if journey.purchase is not None:
            purchase = journey.purchase
            body: dict[str, Any] = {
                "action": "purchase",
                "visitor_id": journey.visitor_id,
                "value": str(purchase.value),
                "currency": currency,
                "event_id": purchase.event_id,
                "timestamp": purchase.at.isoformat(),
                "user_agent": journey.user_agent,
            }
            if purchase.coupon_code:
                body["coupon_code"] = purchase.coupon_code
            headers = {**auth, "idempotency-key": purchase.event_id}
            self._call(http, "POST", "/api/v1/events", json=body, headers=headers)

    @staticmethod
    def _event(kind: str, journey: traffic.Journey, visit: traffic.Visit, url: str, n: int) -> dict[str, Any]:
        at = visit.started_at.replace(microsecond=0) + timedelta(seconds=40 * n)
        return {
            "event_type": kind,
            "visitor_id": journey.visitor_id,
            "event_id": traffic.key(0, visit.session_id, kind),
            "timestamp": at.isoformat(),
            "user_agent": journey.user_agent,
            "properties": {"url": url, "funnel": "purchase", "funnel_position": n + 1},
        }

    def _call(self, http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a 429 or 503 waits as told and tries again, another failure is logged and skipped."""
        for _attempt in range(10):
            response = http.request(method, path, **kwargs)
            if response.status_code not in (429, 503):
                if response.status_code >= 400:
                    logger.warning("demo request refused", extra={"path": path, "status": response.status_code})
                return response
            self.stop.wait(min(float(response.headers.get("retry-after") or 1), 5))
        return response

    def _mark(self) -> None:
        with self.container.session() as session:
            session.add(
                ProcessedMessage(
                    id=marker_id(self.account_id),
                    account_id=self.account_id,
                    kind=MARKER_KIND,
                    processed_at=self.container.clock.now(),
                )
            )
            try:
                session.commit()
            except IntegrityError:  # another process marked it first
                session.rollback()


def start_in_background(
    container: Container, account_id: str, api_key: str, base: str
) -> tuple[threading.Thread, threading.Event]:
    """Run the loader on a daemon thread; set the returned event to stop it early (server shutdown)."""
    stop = threading.Event()
    loader = DemoLoader(container, account_id, api_key, base, stop)

    def target() -> None:
        try:
            loader.run()
        except Exception:
            logger.exception("demo data not loaded")

    thread = threading.Thread(target=target, name="demo-data", daemon=True)
    thread.start()
    return thread, stop
