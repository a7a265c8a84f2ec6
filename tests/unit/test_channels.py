"""Channel classification, referrer table, touch extraction and custom rules (pure unit tests).

The bulk of the classifier's behaviour is pinned by ``data/channel_cases.json``: real-world
(landing URL, referrer) pairs with the expected channel and a note saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multibuzz.domain import channels
from multibuzz.domain.channels import (
    CHANNELS,
    Channel,
    ChannelRule,
    RuleCondition,
    classify,
    is_internal_referrer,
    lookup_referrer,
    lookup_source,
    referrer_table_stats,
)
from multibuzz.domain.touch import MarketingTouch, extract_touch, normalise_host
from pydantic import ValidationError

DATA = json.loads((Path(__file__).parent / "data" / "channel_cases.json").read_text(encoding="utf-8"))
INTERNAL_HOSTS: list[str] = DATA["internal_hosts"]
CASES: list[dict[str, Any]] = DATA["cases"]


# --------------------------------------------------------------------------------------
# The table of real-world cases
# --------------------------------------------------------------------------------------


def test_case_table_is_broad() -> None:
    assert len(CASES) >= 150
    assert {c["expected"] for c in CASES} == set(CHANNELS), "every channel needs cases"
    assert all(c["note"] for c in CASES)
    keys = [(c["landing_url"], c["referrer"]) for c in CASES]
    assert len(keys) == len(set(keys)), "duplicate case"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['expected']}:{c['note']}" for c in CASES])
def test_classify_real_world_cases(case: dict[str, Any]) -> None:
    touch = extract_touch(case["landing_url"], case["referrer"])
    assert classify(touch, internal_hosts=INTERNAL_HOSTS) == case["expected"]


def test_classify_returns_plain_taxonomy_strings() -> None:
    result = classify(extract_touch("https://example-shop.com/?utm_source=google&utm_medium=cpc", None))
    assert type(result) is str
    assert result == "paid_search"
    assert set(CHANNELS) == {c.value for c in Channel}
    assert len(CHANNELS) == 15


def test_internal_referrer_only_matters_when_hosts_are_given() -> None:
    touch = extract_touch("https://example-shop.com/", "https://blog.example-shop.com/post")
    assert classify(touch) == "referral"
    assert classify(touch, internal_hosts=["example-shop.com"]) == "direct"
    assert classify(touch, internal_hosts=("https://www.example-shop.com:443/",)) == "direct"
    assert classify(touch, internal_hosts={"*.example-shop.com"}) == "direct"


def test_internal_referrer_does_not_hide_utms() -> None:
    touch = extract_touch("https://example-shop.com/?utm_source=klaviyo&utm_medium=email", "https://example-shop.com/")
    assert classify(touch, internal_hosts=INTERNAL_HOSTS) == "email"


# --------------------------------------------------------------------------------------
# Referrer / source data table
# --------------------------------------------------------------------------------------


def test_referrer_table_loads_with_hundreds_of_hosts() -> None:
    stats = referrer_table_stats()
    assert stats["hosts"] >= 300
    for category in ("search", "social", "video", "shopping", "email"):
        assert stats[category] >= 20, category
    assert stats["sources"] >= 200


@pytest.mark.parametrize(
    ("host", "category", "name"),
    [
        ("google.com", "search", "Google"),
        ("www.google.co.uk", "search", "Google"),
        ("google.com.br", "search", "Google"),
        ("news.google.de", "search", "Google"),
        ("mail.google.com", "email", "Gmail"),
        ("docs.google.com", "referral", "Google (non-search)"),
        ("shopping.google.com", "shopping", "Google Shopping"),
        ("adservice.google.co.uk", "display", "Google Ad Manager / DV360"),
        ("yahoo.com", "search", "Yahoo"),
        ("uk.search.yahoo.com", "search", "Yahoo"),
        ("mail.yahoo.com", "email", "Yahoo Mail"),
        ("de.mail.yahoo.com", "email", "Yahoo Mail"),
        ("yandex.com.tr", "search", "Yandex"),
        ("mail.yandex.ru", "email", "Yandex Mail"),
        ("go.mail.ru", "search", "Mail.ru Search"),
        ("e.mail.ru", "email", "Mail.ru"),
        ("m.facebook.com", "social", "Facebook"),
        ("l.facebook.com", "social", "Facebook"),
        ("business.facebook.com", "social", "Facebook"),
        ("br.pinterest.com", "social", "Pinterest"),
        ("pinterest.com.au", "social", "Pinterest"),
        ("music.youtube.com", "video", "YouTube"),
        ("amazon.co.jp", "shopping", "Amazon"),
        ("smile.amazon.de", "shopping", "Amazon"),
        ("ebay.com.au", "shopping", "eBay"),
        ("webmail.example.org", "email", "Webmail"),
        ("mail.example.co.uk", "email", "Webmail"),
        ("owa.corp.example.com", "email", "Outlook Web Access"),
        ("com.google.android.gm", "email", "Gmail"),
        ("https://www.perplexity.ai/search/abc", "search", "Perplexity"),
        ("GOOGLE.COM.", "search", "Google"),
    ],
)
def test_lookup_referrer_most_specific_entry_wins(host: str, category: str, name: str) -> None:
    match = lookup_referrer(host)
    assert match is not None, host
    assert (match.category, match.name) == (category, name)


@pytest.mark.parametrize(
    "host",
    [
        "example.org",
        "googlenews.example.net",
        "google.example.com",
        "search.example.com",
        "co.uk",
        "mail.com.br",  # 'mail' label directly on a public suffix is not webmail
        "",
        None,
        "not a host",
        "localhost",
        "127.0.0.1",
    ],
)
def test_lookup_referrer_unknown_hosts(host: str | None) -> None:
    assert lookup_referrer(host) is None


@pytest.mark.parametrize(
    ("source", "category"),
    [
        ("google", "search"),
        ("Google Ads", "search"),
        ("fb", "social"),
        ("ig", "social"),
        ("facebook", "social"),
        ("linkedin", "social"),
        ("duckduckgo", "search"),
        ("ecosia", "search"),  # derived from ecosia.org
        ("youtube", "video"),
        ("amazon", "shopping"),
        ("klaviyo", "email"),
        ("newsletter", "email"),
        ("attentive", "sms"),
        ("awin", "affiliate"),
        ("criteo", "display"),
        ("chatgpt.com", "search"),
        ("l.facebook.com", "social"),
    ],
)
def test_lookup_source(source: str, category: str) -> None:
    match = lookup_source(source)
    assert match is not None, source
    assert match.category == category


@pytest.mark.parametrize("source", ["web", "info", "unknownthing", "", None, "spring sale"])
def test_lookup_source_unknown_or_excluded(source: str | None) -> None:
    assert lookup_source(source) is None


def _table_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"hosts": {"search": {"X": ["x-search.com"]}}, "sources": {}}
    doc.update(overrides)
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_table_doc(hosts={"search": {"A": ["a.com"], "B": ["a.com"]}}), "listed twice"),
        (_table_doc(hosts={"weather": {"A": ["a.com"]}}), "unknown host category"),
        (_table_doc(hosts={"search": {"A": ["www.a.com"]}}), "bad host pattern"),
        (_table_doc(hosts={"search": {"A": ["a.com/path"]}}), "bad host pattern"),
        (_table_doc(sources={"search": {"A": ["a"], "B": ["A "]}}), "listed twice"),
        (_table_doc(sources={"weather": {"A": ["a"]}}), "unknown source category"),
    ],
)
def test_table_loader_rejects_bad_data(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        channels._build_table(doc)


def test_table_loader_drops_ambiguous_derived_source_names() -> None:
    table = channels._build_table(
        _table_doc(hosts={"search": {"A": ["acme.com"]}, "shopping": {"B": ["acme.de", "shopco.*"]}})
    )
    assert "acme" not in table.sources
    assert table.sources["shopco"].category == "shopping"


def test_shipped_json_is_valid_and_documented() -> None:
    path = Path(channels.__file__).parent.parent / "data" / "referrers.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["_doc"]
    generated = json.loads(path.with_name(channels.GENERATED_FILE).read_text(encoding="utf-8"))
    table = channels._build_table(raw, generated)
    assert len(table.hosts) == referrer_table_stats()["hosts"]


def test_no_io_at_import_time() -> None:
    code = (
        "import multibuzz.domain.channels as c, multibuzz.domain.touch, multibuzz.domain.useragents as u;"
        "assert c._table.cache_info().currsize == 0;"
        "assert u._parser.cache_info().currsize == 0;"
        "assert c.classify(multibuzz.domain.touch.extract_touch(None, 'https://t.co/x')) == 'organic_social'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------------------
# Internal referrers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "hosts", "expected"),
    [
        ("https://example.com/cart", ["example.com"], True),
        ("https://www.example.com/", ["example.com"], True),
        ("https://blog.example.com/post?x=1", ["example.com"], True),
        ("https://a.b.example.com/", ["example.com"], True),
        ("https://example.com:8443/", ["example.com"], True),
        ("https://EXAMPLE.COM/", ["example.com"], True),
        ("example.com", ["example.com"], True),
        ("https://shop.example.com/", ["www.example.com"], True),  # www. is ignored on both sides
        ("https://shop.example.com/", ["https://example.com/"], True),
        ("https://shop.example.com/", ["*.example.com"], True),
        ("https://brand.myshopify.com/", ["example.com", "brand.myshopify.com"], True),
        ("https://other.myshopify.com/", ["brand.myshopify.com"], False),
        ("https://notexample.com/", ["example.com"], False),
        ("https://example.com.evil.io/", ["example.com"], False),
        ("https://google.com/", ["example.com"], False),
        ("https://example.com/", [], False),
        ("", ["example.com"], False),
        (None, ["example.com"], False),
        ("about:blank", ["example.com"], False),
        ("https://example.com/", ["", "  "], False),
    ],
)
def test_is_internal_referrer(referrer: str | None, hosts: list[str], expected: bool) -> None:
    assert is_internal_referrer(referrer, hosts) is expected


def test_is_internal_referrer_accepts_a_single_string() -> None:
    assert is_internal_referrer("https://blog.example.com/", "example.com") is True


# --------------------------------------------------------------------------------------
# extract_touch
# --------------------------------------------------------------------------------------


def test_extract_touch_normalises_fields() -> None:
    touch = extract_touch(
        " https://shop.example.com/p?UTM_Source=%20Google%20&utm_medium=CPC&utm_campaign=Spring%20Sale"
        "&utm_content=Hero+Banner&utm_term=blue%20widgets&gclid=CjAbC_1&ScCid=SNAP&ref_code=Jane10&x=1 ",
        "https://WWW.Google.co.uk:443/search?q=x",
    )
    assert touch.utm_source == "google"
    assert touch.utm_medium == "cpc"
    assert touch.utm_campaign == "Spring Sale"  # case kept
    assert touch.utm_content == "Hero Banner"
    assert touch.utm_term == "blue widgets"
    assert dict(touch.click_ids) == {"gclid": "CjAbC_1", "sccid": "SNAP"}
    assert touch.ref_code == "Jane10"
    assert touch.referrer == "https://WWW.Google.co.uk:443/search?q=x"
    assert touch.referrer_host == "google.co.uk"
    assert touch.landing_url is not None and touch.landing_url.startswith("https://shop.example.com/p?")
    assert touch.has_utm
    assert touch.paid_click_id == ("gclid", "CjAbC_1")


def test_extract_touch_first_non_empty_value_wins_and_placeholders_are_dropped() -> None:
    touch = extract_touch("https://x.com/?utm_source=&utm_source=bing&utm_source=google&utm_medium=(none)", None)
    assert touch.utm_source == "bing"
    assert touch.utm_medium is None


@pytest.mark.parametrize(
    ("landing", "referrer"),
    [
        (None, None),
        ("", ""),
        ("not a url", "also not a url"),
        ("http://[::1", "http://[::1"),
        ("https://x.com/?utm_source=%ZZ%&gclid=%", "javascript:alert(1)"),
        ("?utm_source=google&utm_medium=cpc", "//google.com"),
        ("https://x.com/?" + "a=1&" * 5000, "https://" + "a" * 5000 + ".com/"),
        ("https://x.com/?utm_source=\x00google\n", "https://exa mple.com/"),
        ("mailto:someone@example.com", "data:text/html,hi"),
    ],
)
def test_extract_touch_tolerates_garbage(landing: str | None, referrer: str | None) -> None:
    touch = extract_touch(landing, referrer)
    assert classify(touch) in CHANNELS


def test_extract_touch_reads_relative_landing_urls() -> None:
    touch = extract_touch("/landing?utm_source=google&utm_medium=cpc", "google.com/search")
    assert (touch.utm_source, touch.utm_medium, touch.referrer_host) == ("google", "cpc", "google.com")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.google.com/", "google.com"),
        ("http://Sub.Example.COM:8080/x", "sub.example.com"),
        ("example.com", "example.com"),
        ("example.com:8080/path", "example.com"),
        ("//cdn.example.com/a", "cdn.example.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("https://example.com./", "example.com"),
        ("about:blank", None),
        ("javascript:void(0)", None),
        ("http://[::1", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_host(value: str | None, expected: str | None) -> None:
    assert normalise_host(value) == expected


_URL_CHARS = st.characters(codec="utf-8")
_PARAM_NAMES = st.sampled_from(
    ["utm_source", "utm_medium", "utm_campaign", "UTM_TERM", "gclid", "fbclid", "ScCid", "ref_code", "q", "%", "="]
)


@st.composite
def _landing_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https://", "http://", "//", "", "android-app://", "[", "http://["]))
    host = draw(st.text(_URL_CHARS, max_size=30))
    path = draw(st.text(_URL_CHARS, max_size=20))
    pairs = draw(st.lists(st.tuples(_PARAM_NAMES, st.text(_URL_CHARS, max_size=20)), max_size=6))
    return f"{scheme}{host}/{path}?" + "&".join(f"{k}={v}" for k, v in pairs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    landing=st.one_of(st.none(), st.text(_URL_CHARS, max_size=200), _landing_urls()),
    referrer=st.one_of(st.none(), st.text(_URL_CHARS, max_size=200), _landing_urls()),
)
def test_extract_touch_and_classify_never_raise(landing: str | None, referrer: str | None) -> None:
    touch = extract_touch(landing, referrer)
    assert classify(touch, internal_hosts=INTERNAL_HOSTS) in CHANNELS
    key = touch.campaign_key()
    assert key is None or len(key) == 5
    assert is_internal_referrer(referrer, INTERNAL_HOSTS) in (True, False)
    if touch.utm_source is not None:
        assert touch.utm_source == touch.utm_source.strip().lower()
    if touch.referrer_host is not None:
        assert touch.referrer_host == touch.referrer_host.lower()
        assert not touch.referrer_host.startswith("www.")


# --------------------------------------------------------------------------------------
# campaign_key (session splitting)
# --------------------------------------------------------------------------------------

L = "https://example-shop.com/p"


def _key(query: str, referrer: str | None = None) -> tuple[str | None, ...] | None:
    return extract_touch(f"{L}?{query}" if query else L, referrer).campaign_key()


@pytest.mark.parametrize(
    ("query", "referrer"),
    [
        ("", None),
        ("", "https://www.google.com/"),
        ("", "https://example-shop.com/cart"),
        ("variant=1&q=shoes", None),
        ("utm_content=hero&utm_term=shoes", None),  # content/term alone identify no campaign
        ("utm_source=(direct)&utm_medium=(none)", None),
    ],
)
def test_campaign_key_none_without_a_marketing_touch(query: str, referrer: str | None) -> None:
    assert _key(query, referrer) is None


def test_campaign_key_shape_and_normalisation() -> None:
    assert _key("utm_source=Google&utm_medium=CPC&utm_campaign=Spring_Sale") == (
        "google",
        "cpc",
        "spring_sale",
        None,
        None,
    )
    assert _key("utm_source=google&utm_medium=cpc&utm_campaign=SPRING_SALE") == _key(
        "utm_source=google&utm_medium=cpc&utm_campaign=spring_sale"
    )
    assert _key("gclid=AAA") == (None, None, None, "AAA", None)
    assert _key("ref_code=JANE10") == (None, None, None, None, "JANE10")


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("utm_source=google&utm_medium=cpc&utm_campaign=a", "utm_source=google&utm_medium=cpc&utm_campaign=a", True),
        ("utm_source=google&utm_medium=cpc&utm_campaign=a", "utm_source=google&utm_medium=cpc&utm_campaign=b", False),
        ("utm_source=google&utm_medium=cpc", "utm_source=bing&utm_medium=cpc", False),
        ("utm_source=google&utm_medium=cpc", "utm_source=google&utm_medium=organic", False),
        ("utm_source=google&utm_medium=cpc&utm_content=x", "utm_source=google&utm_medium=cpc&utm_content=y", True),
        ("gclid=AAA", "gclid=AAA", True),  # reload of the landing page
        ("gclid=AAA", "gclid=BBB", False),  # a second ad click
        ("gclid=AAA&fbclid=F1", "gclid=AAA&fbclid=F2", True),  # the ad click id has priority
        ("fbclid=F1", "fbclid=F2", False),  # a fresh click from Meta
        ("ttclid=T1", "ttclid=T2", False),
        ("ref_code=JANE10", "ref_code=MAX20", False),
        ("ref_code=JANE10", "ref_code=JANE10", True),
    ],
)
def test_campaign_key_equality_decides_session_split(first: str, second: str, same: bool) -> None:
    assert (_key(first) == _key(second)) is same


def test_campaign_key_ignores_referrer() -> None:
    query = "utm_source=klaviyo&utm_medium=email"
    assert _key(query, "https://mail.google.com/") == _key(query, "https://example-shop.com/") == _key(query)


def test_touch_is_hashable_and_frozen() -> None:
    touch = extract_touch(f"{L}?gclid=A", None)
    assert hash(touch) == hash(extract_touch(f"{L}?gclid=A", None))
    assert touch == extract_touch(f"{L}?gclid=A", None)
    assert touch != extract_touch(f"{L}?gclid=B", None)
    with pytest.raises(AttributeError):
        touch.utm_source = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        touch.click_ids["gclid"] = "B"  # type: ignore[index]


def test_hand_built_touches_are_normalised_by_classify() -> None:
    # e.g. rebuilt from a stored session row rather than by extract_touch
    raw = MarketingTouch(referrer="https://www.Example-Shop.com/cart")
    assert classify(raw, internal_hosts=INTERNAL_HOSTS) == "direct"
    assert classify(MarketingTouch(referrer_host="WWW.Example-Shop.com"), internal_hosts=INTERNAL_HOSTS) == "direct"
    assert classify(MarketingTouch(referrer_host="Mail.Google.com:443")) == "email"
    assert classify(MarketingTouch(utm_source="Facebook", utm_medium="CPC")) == "paid_social"
    assert classify(MarketingTouch(click_ids={"gclid": "x"})) == "paid_search"


def test_default_touch_is_direct() -> None:
    assert classify(MarketingTouch()) == "direct"
    assert MarketingTouch().campaign_key() is None


# --------------------------------------------------------------------------------------
# Custom rules
# --------------------------------------------------------------------------------------


def _rule(channel: str, *conditions: dict[str, Any]) -> ChannelRule:
    return ChannelRule.model_validate({"channel": channel, "conditions": list(conditions)})


def test_custom_rules_are_evaluated_first_and_first_match_wins() -> None:
    touch = extract_touch(f"{L}?utm_source=google&utm_medium=cpc&gclid=X", None)
    assert classify(touch) == "paid_search"
    rules = [
        _rule("affiliate", {"field": "utm_source", "op": "equals", "value": "bing"}),  # no match
        _rule("display", {"field": "utm_source", "op": "equals", "value": "GOOGLE"}),
        _rule("other", {"field": "utm_medium", "op": "exists"}),  # would match, but comes later
    ]
    assert classify(touch, custom_rules=rules) == "display"


def test_custom_rule_conditions_are_anded() -> None:
    rule = _rule(
        "affiliate",
        {"field": "utm_source", "op": "equals", "value": "partnerstack"},
        {"field": "utm_medium", "op": "equals", "value": "cpc"},
    )
    both = extract_touch(f"{L}?utm_source=partnerstack&utm_medium=cpc", None)
    one = extract_touch(f"{L}?utm_source=partnerstack&utm_medium=email", None)
    assert classify(both, custom_rules=[rule]) == "affiliate"
    assert classify(one, custom_rules=[rule]) == "email"


_RULE_TOUCH = extract_touch(
    f"{L}?utm_source=Partner_Stack&utm_medium=CPC&utm_campaign=Spring_VIP_2024&utm_content=Hero&gclid=G1",
    "https://www.Podcast-Network.example/ep/12",
)


@pytest.mark.parametrize(
    ("condition", "matches"),
    [
        ({"field": "utm_source", "op": "equals", "value": "partner_stack"}, True),
        ({"field": "utm_source", "op": "equals", "value": "partner"}, False),
        ({"field": "utm_campaign", "op": "equals", "value": "spring_vip_2024"}, True),  # case-insensitive
        ({"field": "utm_campaign", "op": "contains", "value": "VIP"}, True),
        ({"field": "utm_campaign", "op": "contains", "value": "winter"}, False),
        ({"field": "utm_campaign", "op": "starts_with", "value": "spring"}, True),
        ({"field": "utm_campaign", "op": "starts_with", "value": "vip"}, False),
        ({"field": "utm_campaign", "op": "regex", "value": r"_\d{4}$"}, True),
        ({"field": "utm_campaign", "op": "regex", "value": r"^vip"}, False),
        ({"field": "utm_medium", "op": "in", "value": ["cpm", "CPC"]}, True),
        ({"field": "utm_medium", "op": "in", "value": ["cpm", "email"]}, False),
        ({"field": "utm_content", "op": "exists", "value": True}, True),
        ({"field": "utm_term", "op": "exists"}, False),
        ({"field": "utm_term", "op": "exists", "value": False}, True),
        ({"field": "referrer_host", "op": "equals", "value": "podcast-network.example"}, True),
        ({"field": "referrer_host", "op": "ends_with_is_not_an_op", "value": "x"}, None),
        ({"field": "landing_url", "op": "contains", "value": "utm_content=hero"}, True),
        ({"field": "click_id", "op": "equals", "value": "gclid"}, True),
        ({"field": "click_id", "op": "in", "value": ["fbclid", "ttclid"]}, False),
        ({"field": "click_id", "op": "exists"}, True),
    ],
)
def test_custom_rule_operators(condition: dict[str, Any], matches: bool | None) -> None:
    if matches is None:
        with pytest.raises(ValidationError):
            RuleCondition.model_validate(condition)
        return
    assert RuleCondition.model_validate(condition).matches(_RULE_TOUCH) is matches


def test_custom_rule_on_absent_fields() -> None:
    touch = extract_touch(L, None)
    assert not RuleCondition(field="utm_source", op="contains", value="x").matches(touch)
    assert not RuleCondition(field="referrer_host", op="regex", value=".*").matches(touch)
    assert not RuleCondition(field="click_id", op="exists").matches(touch)
    assert RuleCondition(field="referrer_host", op="exists", value=False).matches(touch)


def test_invalid_channel_is_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ChannelRule.model_validate({"channel": "paid_other", "conditions": [{"field": "utm_source", "op": "exists"}]})
    errors = excinfo.value.errors()
    assert [e["loc"] for e in errors] == [("channel",)]
    assert "channel" in str(excinfo.value)


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"channel": "email", "conditions": []}, ("conditions",)),
        ({"channel": "email"}, ("conditions",)),
        ({"channel": "email", "conditions": [{"field": "utm_foo", "op": "exists"}]}, ("conditions", 0, "field")),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "like", "value": "x"}]},
            ("conditions", 0, "op"),
        ),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "regex", "value": "("}]},
            ("conditions", 0, "value"),
        ),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "regex", "value": "a" * 257}]},
            ("conditions", 0, "value"),
        ),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "in", "value": "a,b"}]},
            ("conditions", 0, "value"),
        ),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "in", "value": []}]},
            ("conditions", 0, "value"),
        ),
        ({"channel": "email", "conditions": [{"field": "utm_source", "op": "equals"}]}, ("conditions", 0, "value")),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "equals", "value": ""}]},
            ("conditions", 0, "value"),
        ),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "exists", "value": "yes"}]},
            ("conditions", 0, "value"),
        ),
        (
            {"channel": "email", "conditions": [{"field": "utm_source", "op": "exists", "extra": 1}]},
            ("conditions", 0, "extra"),
        ),
    ],
)
def test_invalid_rules_name_the_offending_field(payload: dict[str, Any], loc: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        ChannelRule.model_validate(payload)
    assert loc in [e["loc"] for e in excinfo.value.errors()]


def test_regex_of_max_length_is_accepted_and_compiled_once() -> None:
    pattern = "a" * channels.MAX_REGEX_LENGTH
    channels._compiled.cache_clear()
    rule = _rule("other", {"field": "landing_url", "op": "regex", "value": pattern})
    touch = extract_touch(f"{L}?x={'a' * 300}", None)
    for _ in range(5):
        assert classify(touch, custom_rules=[rule]) == "other"
    info = channels._compiled.cache_info()
    assert info.misses == 1


def test_rules_round_trip_as_json() -> None:
    rule = _rule("sms", {"field": "utm_source", "op": "in", "value": ["attentive", "postscript"]})
    again = ChannelRule.model_validate_json(rule.model_dump_json())
    assert again == rule
    assert rule.model_dump()["channel"] == "sms"
    with pytest.raises(ValidationError):
        rule.channel = Channel.EMAIL  # type: ignore[misc]


# --------------------------------------------------------------------------------------
# Defect 15: the host table built from maintained public lists (Matomo), payment providers,
# UTMs in fragments
# --------------------------------------------------------------------------------------

DATA_DIR = Path(channels.__file__).parent.parent / "data"
GENERATED = json.loads((DATA_DIR / channels.GENERATED_FILE).read_text(encoding="utf-8"))
REFRESH = Path(__file__).resolve().parents[2] / "scripts" / "refresh-referrers.py"


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        # the misses of the outside probe (referrer URLs as browsers send them)
        ("http://www.searchalot.com/?q=organic+green+tea&type=web", "organic_search"),
        ("https://www.fixsuche.de/suche?q=gr%C3%BCner+tee", "organic_search"),
        ("http://search.rr.com/web?q=green+tea+online", "organic_search"),
        ("http://ask.reference.com/web?q=green%20tea&qsrc=0", "organic_search"),
        ("http://www.googleearth.de/", "organic_search"),
        ("https://redirect.disqus.com/url?url=https%3A%2F%2Fshop.example%2F%3Aabc&impression=1", "organic_social"),
        # hosts that come only from the generated Matomo list
        ("https://suche.freenet.de/suche/?query=tee", "organic_search"),
        ("https://www.startsiden.no/sok/?q=te", "organic_search"),
        ("https://mixi.jp/view_diary.pl?id=1", "organic_social"),
        ("https://nk.pl/", "organic_social"),
        ("https://www.tuenti.com/", "organic_social"),
        # the curated table still wins over the generated one
        ("https://mail.yahoo.com/d/folders/1", "email"),
        ("https://docs.google.com/document/d/1", "referral"),
        ("https://www.youtube.com/watch?v=x", "video"),
    ],
)
def test_referrers_from_the_public_lists_classify(referrer: str, expected: str) -> None:
    touch = extract_touch("https://example-shop.com/", referrer)
    assert classify(touch, internal_hosts=INTERNAL_HOSTS) == expected


def test_generated_table_records_its_source_and_never_overrides_the_curated_one() -> None:
    source = GENERATED["source"]
    assert source["repository"] == "https://github.com/matomo-org/searchengine-and-social-list"
    assert len(source["commit"]) == 40 and source["commit_date"][:4].isdigit()
    assert source["licence"].startswith("CC0")
    curated = channels._build_table(json.loads((DATA_DIR / "referrers.json").read_text(encoding="utf-8")))
    generated_hosts = [
        (category, name, host)
        for category, names in GENERATED["hosts"].items()
        for name, hosts in names.items()
        for host in hosts
    ]
    assert len(generated_hosts) == GENERATED["counts"]["hosts"] >= 400
    for category, name, host in generated_hosts:
        probe = host[:-2] + ".com" if host.endswith(".*") else host
        assert host not in curated.hosts and channels.lookup_in(curated, probe) is None, host
        match = lookup_referrer(probe)
        assert match is not None and (match.category, match.name) == (category, name), host


MATOMO_SEARCH = """\
Fixsuche:
  -
    urls:
      - www.fixsuche.de
      - '{}.fixsuche.de'
    params:
      - q
Zapmeta:
  -
    urls:
      - 'zapmeta.{}'
      - 'www.zapmeta.{}'
    params:
      - q
Google:
  -
    urls:
      - google.com
      - 'google.{}/cse'
    params:
      - q
Apollo:
  -
    urls:
      - apollo.lv/portal/search/
    params:
      - q
"""
MATOMO_SOCIAL = (
    "Disqus:\n  - redirect.disqus.com\nYouTube:\n  - youtube.com\n"
    "Fixsuche Social:\n  - fixsuche.de\nTuenti:\n  - www.tuenti.com\n"
)
MATOMO_AI = "Someai:\n  - chat.someai.example\n  - android-app//com.someai.app/https/someai.example\n"


def test_refresh_script_is_deterministic_and_follows_the_curated_table(tmp_path: Path) -> None:
    source = tmp_path / "lists"
    source.mkdir()
    (source / "SearchEngines.yml").write_text(MATOMO_SEARCH, encoding="utf-8")
    (source / "Socials.yml").write_text(MATOMO_SOCIAL, encoding="utf-8")
    (source / "AIAssistants.yml").write_text(MATOMO_AI, encoding="utf-8")
    outputs = []
    for n in (1, 2):
        out = tmp_path / f"out{n}.json"
        args = ["--dir", str(source), "--commit", "a" * 40, "--date", "2026-01-02", "--output", str(out)]
        subprocess.run([sys.executable, str(REFRESH), *args], check=True, timeout=120, capture_output=True)
        outputs.append(out.read_bytes())
        check = subprocess.run([sys.executable, str(REFRESH), *args, "--check"], timeout=120, capture_output=True)
        assert check.returncode == 0, check.stderr
    assert outputs[0] == outputs[1], "same inputs, same bytes"
    document = json.loads(outputs[0])
    assert document["source"]["commit"] == "a" * 40 and document["source"]["commit_date"] == "2026-01-02"
    assert document["hosts"] == {
        "search": {
            "Fixsuche": ["fixsuche.de"],
            "Someai": ["chat.someai.example", "com.someai.app"],
            "Zapmeta": ["zapmeta.*"],
        },
        "social": {"Tuenti": ["tuenti.com"]},
    }, "www./{} normalised; curated google/youtube/disqus skipped; path-only and duplicate entries dropped"
    # {}.fixsuche.de, www.zapmeta.{}, Fixsuche Social's fixsuche.de
    assert document["counts"]["skipped_duplicate"] == 3


def test_shipped_generated_file_is_current_with_its_source_when_the_snapshot_is_here() -> None:
    """Opt-in: MULTIBUZZ_MATOMO_LISTS_GIT_DIR names a git dir of matomo-org/searchengine-and-social-list."""
    mirror = Path(os.environ.get("MULTIBUZZ_MATOMO_LISTS_GIT_DIR", "/nonexistent"))
    if not mirror.is_dir():
        pytest.skip("no local snapshot of the Matomo lists (set MULTIBUZZ_MATOMO_LISTS_GIT_DIR)")
    check = subprocess.run(
        [sys.executable, str(REFRESH), "--git-dir", str(mirror), "--check"], timeout=120, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    "referrer",
    [
        "https://www.paypal.com/checkoutnow?token=EC-1AB23456CD789012E",
        "https://www.sandbox.paypal.com/webapps/hermes?token=1",
        "https://www.paypal.de/",
        "https://checkout.stripe.com/c/pay/cs_live_a1B2c3",
        "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1",
        "https://pay.klarna.com/eu/9b3c",
        "https://js.klarna.com/",
        "https://checkoutshopper-live.adyen.com/checkoutshopper/threeDS2.shtml",
        "https://www.mollie.com/checkout/select-method/7UhSN1zuXS",
        "https://pay.google.com/gp/p/ui/pay",
        "https://payments.amazon.co.uk/checkout",
        "https://portal.afterpay.com/us/checkout/?token=002",
        "https://www.affirm.com/",
        "https://secure.payu.com/pay/",
        "https://checkout.shopify.com/",
    ],
)
def test_payment_provider_returns_are_unwanted_referrals_not_referral_traffic(referrer: str) -> None:
    assert channels.is_unwanted_referrer(referrer), referrer
    back = extract_touch("https://example-shop.com/checkout/thank-you?order=1001", referrer)
    assert classify(back, internal_hosts=INTERNAL_HOSTS) == "direct"
    tagged = extract_touch("https://example-shop.com/?utm_source=newsletter&utm_medium=email", referrer)
    assert classify(tagged, internal_hosts=INTERNAL_HOSTS) == "email", "UTMs still decide"


def test_ordinary_referrers_are_not_unwanted() -> None:
    for referrer in (None, "", "https://www.google.com/", "https://blog.example.org/post", "https://amazon.com/"):
        assert not channels.is_unwanted_referrer(referrer), referrer


@pytest.mark.parametrize(
    ("landing_url", "expected"),
    [
        ("https://example-shop.com/#utm_source=newsletter&utm_medium=email&utm_campaign=spring", "email"),
        ("https://example-shop.com/#/product/42?utm_source=facebook&utm_medium=paid_social", "paid_social"),
        ("https://example-shop.com/app#!/home?utm_source=google&utm_medium=cpc", "paid_search"),
        ("https://example-shop.com/?utm_source=google&utm_medium=cpc#utm_medium=email", "paid_search"),
        ("https://example-shop.com/p#reviews", "direct"),
        ("https://example-shop.com/p#section=2&tab=specs", "direct"),
    ],
)
def test_utms_in_the_url_fragment_count_and_the_query_wins(landing_url: str, expected: str) -> None:
    assert classify(extract_touch(landing_url, None), internal_hosts=INTERNAL_HOSTS) == expected


def test_fragment_utms_are_part_of_the_campaign_key() -> None:
    touch = extract_touch("https://example-shop.com/#utm_source=newsletter&utm_medium=email&utm_campaign=Spring", None)
    assert (touch.utm_source, touch.utm_medium, touch.utm_campaign) == ("newsletter", "email", "Spring")
    assert touch.campaign_key() is not None
    assert extract_touch("https://example-shop.com/#top", None).campaign_key() is None


def test_account_rules_still_come_before_the_public_host_table() -> None:
    touch = extract_touch("https://example-shop.com/", "https://www.fixsuche.de/suche?q=tee")
    assert classify(touch) == "organic_search"
    rule = ChannelRule.model_validate(
        {"channel": "affiliate", "conditions": [{"field": "referrer_host", "op": "equals", "value": "fixsuche.de"}]}
    )
    assert classify(touch, custom_rules=[rule]) == "affiliate"
    paypal = ChannelRule.model_validate(
        {"channel": "other", "conditions": [{"field": "referrer_host", "op": "contains", "value": "paypal"}]}
    )
    back = extract_touch("https://example-shop.com/thanks", "https://www.paypal.com/checkoutnow")
    assert classify(back) == "direct" and classify(back, custom_rules=[paypal]) == "other"
