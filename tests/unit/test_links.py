from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlsplit

import pytest
from multibuzz.domain.links import (
    CODE_ALPHABET,
    CODE_LENGTH,
    build_location,
    generate_code,
    is_link_preview,
    is_prefetch,
    normalize_code,
    validate_destination,
    with_default_utms,
)
from multibuzz.errors import InvalidInputError


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example.com/products/1?color=red#reviews",
        "http://example.com",
        "HTTPS://Example.COM/path",
        "https://xn--bcher-kva.example/",
        "https://example.com:8443/a",
        "https://[2001:db8::1]/x",
    ],
)
def test_valid_destinations(url: str) -> None:
    assert validate_destination(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("javascript:alert(1)", "http or https"),
        ("JavaScript:alert(document.cookie)", "http or https"),
        ("data:text/html;base64,PHNjcmlwdD4=", "http or https"),
        ("ftp://example.com/file", "http or https"),
        ("//example.com/path", "http or https"),
        ("https://user:pass@example.com/", "credentials"),
        ("https://user@example.com/", "credentials"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/\nSet-Cookie: x", "spaces"),
        ("https:///nohost", "host"),
        ("https://bad_host!/", "host"),
        ("https://example.com:99999/", "malformed"),
        ("https://example.com\\@evil.com/", "backslashes"),
        ("", "required"),
        ("https://example.com/" + "a" * 2048, "at most"),
    ],
)
def test_invalid_destinations_say_why(url: str, reason: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_destination(url)
    assert reason in info.value.message
    assert info.value.field == "destination_url"


def test_default_utms_are_added_unless_the_destination_has_its_own() -> None:
    added = with_default_utms("https://shop.example/p?x=1#top", source="anna", campaign="spring-24")
    assert added == "https://shop.example/p?x=1&utm_source=anna&utm_medium=affiliate&utm_campaign=spring-24#top"
    own = "https://shop.example/p?UTM_Source=newsletter"
    assert with_default_utms(own, source="anna", campaign="spring-24") == own


def test_location_merges_ref_code_into_an_existing_query_and_keeps_the_fragment() -> None:
    location = build_location("https://shop.example/p?color=red&size=m%20l&ref_code=old#reviews", "abcd2345")
    assert location == "https://shop.example/p?color=red&size=m%20l&ref_code=abcd2345#reviews"
    assert build_location("https://shop.example", "abcd2345") == "https://shop.example?ref_code=abcd2345"


def test_incoming_utms_are_forwarded_only_when_allowed() -> None:
    destination = "https://shop.example/p?utm_source=anna&utm_medium=affiliate&utm_campaign=spring&q=1"
    incoming = [("utm_content", "story"), ("utm_source", "anna-ig"), ("evil", "x"), ("utm_term", "")]
    forwarded = build_location(destination, "abcd2345", incoming_query=incoming, forward_utms=True)
    query = dict(parse_qsl(urlsplit(forwarded).query))
    assert query == {
        "utm_source": "anna-ig",
        "utm_medium": "affiliate",
        "utm_campaign": "spring",
        "q": "1",
        "utm_content": "story",
        "ref_code": "abcd2345",
    }
    kept = build_location(destination, "abcd2345", incoming_query=incoming, forward_utms=False)
    assert dict(parse_qsl(urlsplit(kept).query))["utm_source"] == "anna"
    assert "utm_content" not in kept


def test_codes_are_short_url_safe_and_not_sequential() -> None:
    codes = {generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set(CODE_ALPHABET) & set("01lio"), "no look-alike characters"
    assert generate_code(random.Random(1).choice) != generate_code(random.Random(2).choice)


def test_normalize_code() -> None:
    assert normalize_code("AbCd2345") == "abcd2345"
    for bad in ("", "abc", "abcd/../x", "abcd%00", "a" * 33, "abcd-234"):
        assert normalize_code(bad) is None


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "TelegramBot (like TwitterBot)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    ],
)
def test_link_preview_agents(agent: str) -> None:
    assert is_link_preview(agent)


def test_people_are_not_previews_and_prefetch_is_detected() -> None:
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
    )
    assert not is_link_preview(chrome) and not is_link_preview(None)
    assert is_prefetch({"sec-purpose": "prefetch;prerender"})
    assert not is_prefetch({"accept": "text/html"})
