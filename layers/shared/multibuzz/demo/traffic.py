"""The demo's traffic as data: deterministic journeys (a seeded random), no I/O.

Each visitor gets one to three visits over a few days; every visit is a session whose landing URL and
referrer say its channel (UTM'd paid social matched to the demo Meta campaigns, paid and organic search,
email, referral, direct, and influencer tracking links), a page view, sometimes an add-to-cart, and the
last visit may end in a purchase (sometimes with an influencer's coupon). Every id is derived from the
seed, so sending the same plan twice is deduplicated by the ingestion API's natural keys.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

SITE = "https://demo-store.example"
USER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5"
#: Browsers the visitors use (one per visitor), so clicks and sessions spread over devices and browsers.
USER_AGENTS: tuple[str, ...] = (
    USER_AGENT + " Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
)

#: (channel kind, weight): how a visit arrives.
SOURCES: tuple[tuple[str, int], ...] = (
    ("paid_social", 24),
    ("paid_search", 18),
    ("organic_search", 14),
    ("email", 12),
    ("referral", 8),
    ("direct", 12),
    ("influencer", 12),
)


@dataclass(frozen=True)
class MetaCampaign:
    campaign_id: str
    name: str


@dataclass(frozen=True)
class Visit:
    session_id: str
    started_at: datetime
    source: str
    url: str  # the landing URL; for an influencer visit, the tracking link's redirect supplies it
    referrer: str | None
    link_code: str | None = None  # influencer visits: click this tracking link first
    add_to_cart: bool = False


@dataclass(frozen=True)
class Purchase:
    event_id: str
    at: datetime
    value: Decimal
    coupon_code: str | None


@dataclass(frozen=True)
class Journey:
    visitor_id: str
    visits: tuple[Visit, ...]
    purchase: Purchase | None = None
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Plan:
    journeys: list[Journey] = field(default_factory=list)

    @property
    def purchases(self) -> int:
        return sum(1 for j in self.journeys if j.purchase is not None)


def key(seed: int, *parts: object) -> str:
    """A 64-hex id derived from the seed (visitor, session and event ids)."""
    return hashlib.sha256(":".join(["multibuzz-demo", str(seed), *map(str, parts)]).encode()).hexdigest()


def plan(
    *,
    seed: int,
    now: datetime,
    days: int,
    visitors_per_day: int,
    meta_campaigns: list[MetaCampaign],
    link_codes: list[str],
    coupon_codes: list[str],
    purchase_rate: float = 0.12,
) -> Plan:
    """``days`` x ``visitors_per_day`` journeys whose visits all lie in the last ``days`` days before ``now``."""
    rng = random.Random(seed)
    kinds = [k for k, _ in SOURCES if k != "influencer" or link_codes]
    weights = [w for k, w in SOURCES if k in kinds]
    start = now - timedelta(days=days)
    journeys = []
    for day in range(days):
        for n in range(visitors_per_day):
            index = day * visitors_per_day + n
            visitor = key(seed, "visitor", index)
            first = start + timedelta(days=day, seconds=rng.randint(0, 86_399))
            visits = []
            at = first
            for v in range(rng.choice((1, 1, 1, 2, 2, 3))):
                if at >= now - timedelta(minutes=1):
                    break
                kind = rng.choices(kinds, weights)[0]
                visits.append(_visit(rng, seed, index, v, at, kind, meta_campaigns, link_codes))
                at = at + timedelta(hours=rng.randint(2, 72))
            if not visits:
                continue
            purchase = None
            if rng.random() < purchase_rate:
                last = visits[-1]
                coupon = rng.choice(coupon_codes) if coupon_codes and rng.random() < 0.3 else None
                value = Decimal(rng.randint(1500, 24000)) / 100
                at_purchase = min(last.started_at + timedelta(minutes=rng.randint(3, 25)), now - timedelta(seconds=5))
                purchase = Purchase(key(seed, "purchase", index), at_purchase, value, coupon)
            journeys.append(Journey(visitor, tuple(visits), purchase, USER_AGENTS[index % len(USER_AGENTS)]))
    return Plan(journeys)


def _visit(
    rng: random.Random,
    seed: int,
    index: int,
    number: int,
    at: datetime,
    kind: str,
    meta_campaigns: list[MetaCampaign],
    link_codes: list[str],
) -> Visit:
    page = rng.choice(("/", "/collections/new", "/products/linen-shirt", "/products/canvas-tote", "/sale"))
    referrer: str | None = None
    link_code = None
    params: dict[str, str] = {}
    if kind == "paid_social" and meta_campaigns:
        campaign = rng.choice(meta_campaigns)
        params = {
            "utm_source": "facebook",
            "utm_medium": "paid_social",
            "utm_campaign": campaign.name,
            "utm_id": campaign.campaign_id,
        }
        referrer = "https://m.facebook.com/"
    elif kind == "paid_search" or (kind == "paid_social" and not meta_campaigns):
        params = {
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": rng.choice(("brand", "shopping-generic")),
            "gclid": key(seed, "gclid", index, number)[:24],
        }
        referrer = "https://www.google.com/"
    elif kind == "organic_search":
        referrer = rng.choice(("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/"))
    elif kind == "email":
        params = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": rng.choice(("weekly", "winback"))}
    elif kind == "referral":
        referrer = rng.choice(("https://blog.example.org/best-gifts", "https://news.example.net/style/linen"))
    elif kind == "influencer":
        link_code = rng.choice(link_codes)
        referrer = rng.choice(("https://www.instagram.com/", "https://www.tiktok.com/"))
    url = f"{SITE}{page}" + (f"?{urlencode(params)}" if params else "")
    return Visit(
        session_id=key(seed, "session", index, number),
        started_at=at,
        source=kind,
        url=url,
        referrer=referrer,
        link_code=link_code,
        add_to_cart=rng.random() < 0.35,
    )
