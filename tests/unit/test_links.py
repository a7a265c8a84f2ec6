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
        "https://[2606:4700:4700::1111]/x",
        "https://93.184.215.14/landing",
        "https://shop.example/100%25-cotton?q=a%20b",
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
        ("https://shop.example/tea\u2028more", "control"),
        ("https://shop.example/a\u00a0b", "control"),
        ("https://shop.example/\u202egnp.exe", "control"),
        ("https://shop.example/" + "\u65e5" * 700, "at most"),
        ("https://xn--.example/", "host"),
        ("https://" + "\u00e9" * 70 + ".example/", "host"),
        ("http://localhost:8000/admin", "loopback"),
        ("http://app.localhost/", "loopback"),
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1/", "dotted"),
        ("http://2130706433/", "dotted"),
        ("http://0x7f.0.0.1/", "dotted"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.8/", "private"),
        ("http://192.168.1.1/router", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "private"),
        ("http://100.64.0.1/", "private"),
        ("http://0.0.0.0/", "private"),
        ("http://[fe80::1]/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://224.0.0.1/", "private"),
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


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        ("https://shop.example/\u65e5\u672c\u8336", "https://shop.example/%E6%97%A5%E6%9C%AC%E8%8C%B6"),
        (
            "https://shop.example/prix-10\u20ac?x=\u20ac#\u20ac",
            "https://shop.example/prix-10%E2%82%AC?x=%E2%82%AC#%E2%82%AC",
        ),
        ("https://shop.example/caf\u00e9", "https://shop.example/caf%C3%A9"),
        ("https://b\u00fccher.example/b\u00fccher", "https://xn--bcher-kva.example/b%C3%BCcher"),
        ("https://B\u00dcCHER.Example:8443/x", "https://xn--bcher-kva.example:8443/x"),
        (
            "https://shop.example/100%25-cotton?q=a%20b&r=%E2%82%AC",
            "https://shop.example/100%25-cotton?q=a%20b&r=%E2%82%AC",
        ),
        ("https://shop.example/50%-off", "https://shop.example/50%25-off"),
        ("https://shop.example/a b\u2028c", "https://shop.example/a%20b%E2%80%A8c"),
        ('https://shop.example/x?a="<>^`{|}\\', "https://shop.example/x?a=%22%3C%3E%5E%60%7B%7C%7D%5C"),
        ("https://shop.example/p?color=red&size=M#top", "https://shop.example/p?color=red&size=M#top"),
    ],
)
def test_iri_to_uri_percent_encodes_utf8_and_punycodes_the_host(iri: str, uri: str) -> None:
    from multibuzz.domain.links import iri_to_uri

    converted = iri_to_uri(iri)
    assert converted == uri
    assert converted.isascii() and converted.isprintable()
    assert iri_to_uri(converted) == converted, "idempotent: never double-encodes"


def test_validate_destination_stores_the_uri_form_of_an_iri() -> None:
    assert (
        validate_destination("https://shop.example/\u65e5\u672c\u8336")
        == "https://shop.example/%E6%97%A5%E6%9C%AC%E8%8C%B6"
    )
    assert validate_destination("https://b\u00fccher.example/caf\u00e9") == "https://xn--bcher-kva.example/caf%C3%A9"


def test_location_of_a_stored_iri_is_a_valid_header_value() -> None:
    from multibuzz.domain.links import iri_to_uri

    location = build_location(iri_to_uri("https://shop.example/\u65e5?a=1#\u00e9"), "abcd2345")
    location.encode("latin-1")
    assert location == "https://shop.example/%E6%97%A5?a=1&ref_code=abcd2345#%C3%A9"
