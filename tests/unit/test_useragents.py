"""User-agent parsing: real UA strings -> device type, browser, OS, bot flag (pure unit tests)."""

from __future__ import annotations

import dataclasses

import pytest
from crawlerdetect import CrawlerDetect
from hypothesis import given, settings
from hypothesis import strategies as st
from multibuzz.domain import useragents
from multibuzz.domain.useragents import DeviceInfo, parse_user_agent

# (user agent, device_type, browser, os, is_bot, note)
HUMANS: list[tuple[str, str, str, str, str]] = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "desktop",
        "Chrome",
        "Windows",
        "Chrome on Windows",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "mobile",
        "Mobile Safari",
        "iOS",
        "Safari on iPhone",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1",
        "tablet",
        "Mobile Safari",
        "iOS",
        "Safari on iPad (mobile-site mode)",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.82 Mobile Safari/537.36",
        "mobile",
        "Chrome Mobile",
        "Android",
        "Chrome on an Android phone",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile",
        "Chrome Mobile",
        "Android",
        "Android phone with the reduced UA",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "tablet",
        "Chrome",
        "Android",
        "Galaxy Tab A8 (no 'Mobile' token)",
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/122.3.1 "
        "like Chrome/122.0.6261.119 Safari/537.36",
        "tablet",
        "Amazon Silk",
        "Android",
        "Fire tablet",
    ),
    (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        "Firefox",
        "Ubuntu",
        "Firefox on Linux",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        "Firefox",
        "Linux",
        "Firefox on generic Linux",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
        "desktop",
        "Edge",
        "Windows",
        "Edge",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
        "mobile",
        "Samsung Internet",
        "Android",
        "Samsung Internet on a Galaxy S23",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15",
        "desktop",
        "Safari",
        "Mac OS X",
        "Safari on macOS",
    ),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "desktop",
        "Chrome",
        "Chrome OS",
        "Chromebook",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36 OPR/109.0.0.0",
        "desktop",
        "Opera",
        "Windows",
        "Opera",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/21E219 [FBAN/FBIOS;FBAV/460.0.0.36.106;FBBV/590000000;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;"
        "FBSV/17.4;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        "mobile",
        "Facebook",
        "iOS",
        "Facebook in-app browser is a human, not the facebookexternalhit bot",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/123.0.6312.118 Mobile Safari/537.36 Instagram 327.0.0.44.117 "
        "Android",
        "mobile",
        "Instagram",
        "Android",
        "Instagram in-app browser",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        "mobile",
        "Chrome Mobile iOS",
        "iOS",
        "Chrome on iPhone",
    ),
    (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
        "other",
        "Samsung Internet",
        "Tizen",
        "Samsung smart TV",
    ),
]

# (user agent, browser, note). All must be bots.
BOTS: list[tuple[str, str | None, str]] = [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot", "Googlebot"),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.71 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot",
        "Googlebot smartphone: a bot although it looks like Android Chrome",
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "bingbot", "bingbot"),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slackbot-LinkExpanding", "Slack unfurl"),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "FacebookBot", "Facebook preview"),
    ("Twitterbot/1.0", "Twitterbot", "X card preview"),
    ("WhatsApp/2.23.20.0 A", "WhatsApp", "WhatsApp preview (Android)"),
    ("WhatsApp/2.21.12.21 i", "WhatsApp", "WhatsApp preview (iOS)"),
    ("TelegramBot (like TwitterBot)", "TelegramBot", "Telegram preview"),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discordbot", "Discord embed"),
    (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "LinkedInBot",
        "LinkedIn preview",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Applebot",
        "Applebot (iMessage / Spotlight previews)",
    ),
    (
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
        None,
        "Skype / Teams link preview",
    ),
    ("curl/8.4.0", "curl", "curl: HTTP tools are bots"),
    ("python-requests/2.31.0", "Python Requests", "python-requests: HTTP libraries are bots"),
    ("Wget/1.21.4", "Wget", "wget"),
    ("okhttp/4.12.0", "okhttp", "okhttp"),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
        "HeadlessChrome",
        "headless Chrome",
    ),
    ("Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)", "Pinterestbot", "Pinterest"),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
        "GPTBot",
        "GPTBot",
    ),
]

LINK_PREVIEW_TOKENS = [
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "facebookexternalhit/1.1",
    "Twitterbot/1.0",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Discordbot/2.0",
    "LinkedInBot/1.0",
    "Applebot/0.1",
    "SkypeUriPreview Preview/0.5",
]


@pytest.mark.parametrize(("ua", "device_type", "browser", "os", "note"), HUMANS, ids=[h[4] for h in HUMANS])
def test_human_user_agents(ua: str, device_type: str, browser: str, os: str, note: str) -> None:
    info = parse_user_agent(ua)
    assert (info.device_type, info.browser, info.os, info.is_bot) == (device_type, browser, os, False), note


@pytest.mark.parametrize(("ua", "browser", "note"), BOTS, ids=[b[2] for b in BOTS])
def test_bot_user_agents(ua: str, browser: str | None, note: str) -> None:
    info = parse_user_agent(ua)
    assert info.is_bot, note
    assert info.device_type == "bot"
    assert info.browser == browser


@pytest.mark.parametrize("ua", LINK_PREVIEW_TOKENS)
def test_link_preview_bots_are_flagged_by_crawlerdetect_itself(ua: str) -> None:
    # Pins the decision not to carry a supplement list: if a crawlerdetect upgrade stops
    # flagging one of these, this test says so and a supplement becomes necessary.
    assert CrawlerDetect().is_crawler(ua)
    assert parse_user_agent(ua).is_bot


def test_versions() -> None:
    info = parse_user_agent(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.6367.82 Mobile Safari/537.36"
    )
    assert (info.browser_version, info.os_version) == ("124.0.6367.82", "14")
    mac = parse_user_agent(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4.1 Safari/605.1.15"
    )
    assert (mac.browser_version, mac.os_version) == ("17.4.1", "10.15.7")


@pytest.mark.parametrize("ua", [None, "", "   ", "\t\n"])
def test_empty_user_agent_is_other_not_bot(ua: str | None) -> None:
    assert parse_user_agent(ua) == DeviceInfo(
        device_type="other", browser=None, browser_version=None, os=None, os_version=None, is_bot=False
    )


def test_unknown_user_agent_is_other() -> None:
    info = parse_user_agent("asdfgh qwerty")
    assert (info.device_type, info.browser, info.os, info.is_bot) == ("other", None, None, False)


def test_results_are_cached_and_frozen() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
    first = parse_user_agent(ua)
    before = useragents._parse.cache_info().hits
    assert parse_user_agent(ua) is first
    assert parse_user_agent(f"  {ua}  ") is first  # stripped before caching
    assert useragents._parse.cache_info().hits == before + 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.is_bot = True  # type: ignore[misc]


def test_huge_user_agent_is_truncated() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0.0.0 Safari/537.36 " + "x" * 100_000
    info = parse_user_agent(ua)
    assert info.os == "Windows"
    assert useragents._parse.cache_info().currsize >= 1


def test_uses_the_rust_accelerator_when_available() -> None:
    pytest.importorskip("ua_parser_rs")
    assert useragents.resolver_name() == "ua_parser.regex"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_never_raises(ua: str) -> None:
    info = parse_user_agent(ua)
    assert info.device_type in ("desktop", "mobile", "tablet", "bot", "other")
    assert info.is_bot is (info.device_type == "bot")
