"""The hand-built click message is exactly the JSON of the click it describes, whatever the visitor sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from multibuzz.redirect.cache import LinkSnapshot
from multibuzz.redirect.click_message import click_message, click_template


def snapshot(**changes: object) -> LinkSnapshot:
    values: dict[str, object] = {
        "link_id": "lnk_01",
        "account_id": "acc_01",
        "campaign_id": "cmp_01",
        "influencer_id": "inf_01",
        "code": "abcd2345",
        "destination_url": 'https://shop.example/a?b="c"&d=é#top',
        "forward_utms": True,
        "active": True,
        "campaign_status": "active",
        "starts_at": None,
        "ends_at": datetime(2030, 1, 1, tzinfo=UTC),
        "fallback_url": "https://shop.example/over",
        "account_active": True,
        "ip_privacy": "truncate",
        "salt": b"k" * 32,
        **changes,
    }
    return LinkSnapshot(**values)  # type: ignore[arg-type]


visitor_text = st.none() | st.text(max_size=80)  # quotes, backslashes, control characters, any code point


@given(
    live=st.booleans(),
    has_fallback=st.booleans(),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    user_agent=visitor_text,
    referrer=visitor_text,
    ip=visitor_text,
    country=visitor_text,
    city=visitor_text,
    destination=st.text(min_size=1, max_size=80),
    prefetch=st.booleans(),
)
def test_the_message_parses_to_the_click(
    live: bool,
    has_fallback: bool,
    method: str,
    user_agent: str | None,
    referrer: str | None,
    ip: str | None,
    country: str | None,
    city: str | None,
    destination: str,
    prefetch: bool,
) -> None:
    link = snapshot(fallback_url="https://shop.example/over" if has_fallback else None)
    template = click_template(link, live)
    text = click_message(
        template,
        click_id="clk_01jd0000000000000000000000",
        occurred_at="2026-11-21T11:00:00.123456+00:00",
        method=method,
        user_agent=user_agent,
        referrer=referrer,
        ip=ip,
        visitor_hash="ab" * 32,
        country=country,
        city=city,
        destination_url=destination,
        prefetch=prefetch,
    )
    assert text.isascii() and "\n" not in text, "one line of ASCII: a journal line as it is"
    used_fallback = not live and has_fallback
    assert json.loads(text) == {
        "kind": "click.record",
        "id": "clk_01jd0000000000000000000000",
        "account_id": "acc_01",
        "payload": {
            "click_id": "clk_01jd0000000000000000000000",
            "link_id": "lnk_01",
            "campaign_id": "cmp_01",
            "influencer_id": "inf_01",
            "code": "abcd2345",
            "occurred_at": "2026-11-21T11:00:00.123456+00:00",
            "method": method,
            "user_agent": user_agent,
            "referrer": referrer,
            "ip": ip,
            "visitor_hash": "ab" * 32,
            "country": country,
            "city": city,
            "destination_url": destination,
            "used_fallback": used_fallback,
            "outside_live_window": not live,
            "prefetch": prefetch,
        },
    }


def test_the_template_targets_the_fallback_only_outside_the_live_window() -> None:
    link = snapshot()
    # a stored IRI (a row older than destination validation) becomes a valid URI once, in the template
    assert click_template(link, True).location == "https://shop.example/a?b=%22c%22&d=%C3%A9&ref_code=abcd2345#top"
    assert click_template(link, False).location == "https://shop.example/over?ref_code=abcd2345"
    no_fallback = snapshot(fallback_url=None)
    assert click_template(no_fallback, False).target == "https://shop.example/a?b=%22c%22&d=%C3%A9#top"
