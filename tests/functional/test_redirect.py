"""GET|HEAD /r/{code} through the local gateway, and the clicks that come out of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from multibuzz.adapters.queue.base import OutgoingMessage, QueueUnavailableError, SendResult
from multibuzz.bootstrap import Container
from multibuzz.db.models.influencer import Click
from multibuzz.redirect.cache import link_cache
from multibuzz.redirect.journal import JournalShipper
from multibuzz.redirect.service import Redirector, journal_directory
from sqlalchemy import select

from functions.redirect.handler import lambda_handler as redirect_handler
from infra.local.__main__ import main as local_cli
from infra.local.dispatch import deliver_once, load_handler
from tests.conftest import Api
from tests.functional.test_influencer_api import setup_influencer

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


class BrokenQueue:
    def __init__(self) -> None:
        self.attempts = 0

    def send_batch(self, queue: str, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self.attempts += 1
        raise QueueUnavailableError("SQS is having a bad day")


def drain_clicks(container: Container) -> list[Click]:
    redirect_handler.flush()  # the local runner group-commits clicks every few milliseconds
    handler = load_handler("attribution")
    while deliver_once(container.local_queue, "clicks", handler, batch_size=100).received:
        pass
    with container.session() as session:
        return list(session.scalars(select(Click).order_by(Click.id)))


@pytest.fixture(autouse=True)
def _fresh_link_cache() -> None:
    link_cache.clear()


def test_redirect_merges_ref_code_into_the_existing_query_and_records_the_click(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Redirects")
    code = s.link["code"]
    response = api.client.get(
        f"/r/{code.upper()}?utm_content=story&utm_source=anna-ig&other=dropped",
        headers={
            "user-agent": CHROME,
            "referer": "https://instagram.com/anna",
            "cloudfront-viewer-country": "de",
            "cloudfront-viewer-city": "M%C3%BCnchen",
            "cloudfront-viewer-address": "198.51.100.77:51000",
        },
    )
    assert response.status_code == 302
    location = response.headers["location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "shop.example", "/spring", "top")
    assert parse_qsl(parts.query) == [
        ("color", "red"),
        ("utm_medium", "affiliate"),
        ("utm_campaign", "spring-24"),
        ("utm_source", "anna-ig"),
        ("utm_content", "story"),
        ("ref_code", code),
    ]
    assert response.headers["cache-control"] == "private, no-store"

    (click,) = drain_clicks(container)
    assert (click.link_id, click.influencer_id, click.campaign_id) == (
        s.link["id"],
        s.influencer["id"],
        s.campaign["id"],
    )
    assert (click.is_bot, click.unique_click, click.method) == (False, True, "GET")
    assert (click.device_type, click.browser, click.os) == ("desktop", "Chrome", "Mac OS X")
    assert click.ip == "198.51.100.0", "IPv4 truncated to /24 by default"
    assert (click.country, click.city) == ("DE", "München")
    assert click.referrer == "https://instagram.com/anna"
    assert click.destination_url == location and not click.used_fallback
    summary = api.client.get(f"/api/v1/clicks/summary?link_id={s.link['id']}", headers=s.headers).json()
    assert summary == {"clicks": 1, "unique_clicks": 1, "bot_hits": 0}


def test_unknown_and_disabled_codes_get_html_pages_not_errors(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Pages")
    for path in ("/r/zzzzzzzz", "/r/%00%00", "/r/abc", "/r/" + "a" * 40):
        missing = api.client.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"].startswith("text/html")
        assert "Link not found" in missing.text
    assert api.client.get(f"/r/{s.link['code']}").status_code == 302
    api.client.post(f"/api/v1/links/{s.link['id']}/disable", headers=s.headers)
    gone = api.client.get(f"/r/{s.link['code']}")
    assert gone.status_code == 410 and "no longer active" in gone.text
    assert gone.headers["content-type"].startswith("text/html")
    regenerated = api.client.post(f"/api/v1/links/{s.link['id']}/enable", headers=s.headers).json()
    assert regenerated["status"] == "active"
    assert api.client.get(f"/r/{s.link['code']}").status_code == 302


def test_head_requests_and_link_previews_are_recorded_as_bots(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Bots")
    code = s.link["code"]
    head = api.client.head(f"/r/{code}", headers={"user-agent": CHROME})
    assert head.status_code == 302 and head.headers["location"].endswith(f"ref_code={code}#top")
    preview = api.client.get(
        f"/r/{code}", headers={"user-agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}
    )
    assert preview.status_code == 302, "bots are still redirected"
    api.client.get(f"/r/{code}", headers={"user-agent": CHROME, "sec-purpose": "prefetch"})
    api.client.get(f"/r/{code}", headers={"user-agent": CHROME})
    clicks = drain_clicks(container)
    reasons = sorted((c.bot_reason or "-") for c in clicks)
    assert reasons == ["-", "head", "prefetch", "preview"]
    assert [c.unique_click for c in clicks if c.is_bot] == [False, False, False]
    summary = api.client.get(f"/api/v1/clicks/summary?link_id={s.link['id']}", headers=s.headers).json()
    assert summary == {"clicks": 1, "unique_clicks": 1, "bot_hits": 3}
    humans = api.client.get(f"/api/v1/clicks?link_id={s.link['id']}&is_bot=false", headers=s.headers).json()
    assert [c["bot_reason"] for c in humans["data"]] == [None]


def test_outside_the_live_dates_the_link_goes_to_the_fallback_and_the_click_says_so(
    api: Api, container: Container
) -> None:
    starts = datetime.now(UTC) + timedelta(days=30)
    s = setup_influencer(
        api,
        "Not yet live",
        campaign={"starts_at": starts.isoformat(), "fallback_url": "https://shop.example/coming-soon?x=1"},
    )
    response = api.client.get(f"/r/{s.link['code']}")
    assert response.status_code == 302
    assert response.headers["location"] == f"https://shop.example/coming-soon?x=1&ref_code={s.link['code']}"
    (click,) = drain_clicks(container)
    assert click.used_fallback and click.outside_live_window


def test_ip_privacy_follows_the_account_setting(api: Api, container: Container) -> None:
    s = setup_influencer(api, "Hashing")
    settings = api.client.patch(
        f"/api/v1/accounts/{s.tenant.account_id}/settings", json={"ip_privacy": "hash"}, headers=s.headers
    )
    assert settings.status_code == 200
    link_cache.clear()
    api.client.get(f"/r/{s.link['code']}", headers={"cloudfront-viewer-address": "203.0.113.9:443"})
    (click,) = drain_clicks(container)
    assert click.ip is not None and len(click.ip) == 64 and "203.0.113" not in click.ip
    assert click.country is None, "no CloudFront headers and no offline IP database"


def test_queue_outage_loses_no_clicks(api: Api, container: Container) -> None:
    """Locally the click journal is what holds clicks while the queue is down; replay-clicks ships it."""
    s = setup_influencer(api, "Outage")
    broken = BrokenQueue()
    container.__dict__["queue"] = broken
    statuses = [api.client.get(f"/r/{s.link['code']}", headers={"user-agent": f"{CHROME} n{n}"}).status_code
                for n in range(100)]  # fmt: skip
    assert statuses == [302] * 100
    redirect_handler.flush()  # tries to ship: the queue refuses, the journal keeps every click
    assert broken.attempts >= 1
    assert container.local_queue.depth("clicks") == 0
    journal = JournalShipper(journal_directory(container))
    journal_lines = [line for path in journal.segments() for line in path.read_text().splitlines()]
    assert len(journal_lines) == 100 and journal.pending_bytes() > 0

    del container.__dict__["queue"]  # the queue is back
    assert local_cli(["replay-clicks"]) == 0
    assert container.local_queue.depth("clicks") == 100
    assert journal.pending_bytes() == 0
    clicks = drain_clicks(container)
    assert len(clicks) == 100
    assert all(c.link_id == s.link["id"] and not c.is_bot for c in clicks)
    assert sum(c.unique_click for c in clicks) == 100, "100 different user agents"
    assert local_cli(["replay-clicks"]) == 0, "a second replay has nothing to send"
    assert container.local_queue.depth("clicks") == 0


def test_on_sqs_a_queue_outage_spools_every_click_for_replay(api: Api, container: Container) -> None:
    """The AWS path (direct send, no journal): 100 redirects while SQS is down → 100 spooled → replayed."""
    s = setup_influencer(api, "Outage SQS")
    direct = Redirector(lambda: container, journal=False)
    broken = BrokenQueue()
    container.__dict__["queue"] = broken
    event = {"pathParameters": {"code": s.link["code"]}, "headers": {}, "requestContext": {"http": {"method": "GET"}}}
    statuses = [direct({**event, "headers": {"user-agent": f"{CHROME} n{n}"}})["statusCode"] for n in range(100)]
    assert statuses == [302] * 100 and broken.attempts == 100
    spool_file = Path(container.settings.data_dir) / "spool" / "clicks.jsonl"
    assert len(spool_file.read_text().splitlines()) == 100

    del container.__dict__["queue"]
    assert local_cli(["replay-clicks"]) == 0
    assert container.local_queue.depth("clicks") == 100
    assert not spool_file.exists() or spool_file.read_text() == ""
    clicks = drain_clicks(container)
    assert len(clicks) == 100 and sum(c.unique_click for c in clicks) == 100


IRI_DESTINATIONS = [
    ("https://shop.example/日本茶", "https://shop.example/%E6%97%A5%E6%9C%AC%E8%8C%B6"),
    ("https://shop.example/prix-10€?promo=été#détails", "https://shop.example/prix-10%E2%82%AC?promo=%C3%A9t%C3%A9"),
    ("https://shop.example/café", "https://shop.example/caf%C3%A9"),
    ("https://bücher.example/neu", "https://xn--bcher-kva.example/neu"),
]


@pytest.mark.parametrize(("iri", "uri_prefix"), IRI_DESTINATIONS)
def test_links_to_iris_redirect_to_a_percent_encoded_uri(api: Api, iri: str, uri_prefix: str) -> None:
    s = setup_influencer(api, "Iri", destination=iri)
    assert s.link["destination_url"].startswith(uri_prefix), "stored in its URI form"
    response = api.client.get(f"/r/{s.link['code']}", headers={"user-agent": CHROME})
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(uri_prefix) and location.isascii() and location.isprintable()
    assert f"ref_code={s.link['code']}" in location
    forwarded = api.client.get(f"/r/{s.link['code']}?utm_content=b%C3%BCro", headers={"user-agent": CHROME})
    assert forwarded.status_code == 302
    assert (
        forwarded.headers["location"].startswith(uri_prefix)
        and "utm_content=b%C3%BCro" in forwarded.headers["location"]
    )


def test_links_stored_before_validation_still_redirect_with_a_valid_location(api: Api, container: Container) -> None:
    from multibuzz.db.models.influencer import TrackingLink

    s = setup_influencer(api, "OldRows")
    raw = "https://shop.example/日本茶/prix-10€\u2028 café?x=ü#é"
    with container.session() as session:
        link = session.get(TrackingLink, s.link["id"])
        assert link is not None
        link.destination_url = raw  # as an old row may hold it: written before IRIs were converted
        session.commit()
    link_cache.clear()
    response = api.client.get(f"/r/{s.link['code']}", headers={"user-agent": CHROME})
    assert response.status_code == 302, response.text
    assert response.headers["location"] == (
        "https://shop.example/%E6%97%A5%E6%9C%AC%E8%8C%B6/prix-10%E2%82%AC%E2%80%A8%20caf%C3%A9"
        f"?x=%C3%BC&ref_code={s.link['code']}#%C3%A9"
    )
    (click,) = drain_clicks(container)
    assert click.destination_url == response.headers["location"]


@pytest.mark.parametrize(
    "destination",
    [
        "https://shop.example/tea\u2028time",
        "http://localhost:3000/",
        "http://127.0.0.1/admin",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://2130706433/",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_link_destinations_that_cannot_be_public_urls_are_refused_naming_the_field(api: Api, destination: str) -> None:
    s = setup_influencer(api, "Refused")
    response = api.client.post(
        "/api/v1/links",
        headers=s.headers,
        json={"campaign_id": s.campaign["id"], "influencer_id": s.influencer["id"], "destination_url": destination},
    )
    assert response.status_code == 422, response.text
    assert "destination_url" in response.text
    links = api.client.get("/api/v1/links", headers=s.headers).json()
    items = links["data"]
    assert [link["id"] for link in items] == [s.link["id"]], "nothing stored"
