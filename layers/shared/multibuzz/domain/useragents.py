"""User-agent parsing: device type, browser, OS and a bot flag for clicks and sessions.

:func:`parse_user_agent` combines two libraries:

* **ua-parser** (uap-core regexes) for browser, OS and device. The parser is built on first
  use with the fastest resolver that loads — the ``ua-parser-rs`` (Rust) accelerator, else
  ``google-re2``, else the pure-Python resolver — and without ua-parser's own cache
  (results are cached here, per whole :class:`DeviceInfo`).
* **crawlerdetect** for the bot flag (a maintained library list, not a hand list). ua-parser's
  ``Spider`` device family also counts as a bot. Every link-preview fetcher we care about
  (Slackbot-LinkExpanding, facebookexternalhit, Twitterbot, WhatsApp, TelegramBot,
  Discordbot, LinkedInBot, Applebot, SkypeUriPreview) is flagged by crawlerdetect 0.4.2
  itself, so no supplement list is needed; ``tests/unit/test_useragents.py`` pins that.

Decisions
---------
* HTTP client libraries and command-line tools (curl, Wget, python-requests, okhttp, axios,
  Go-http-client ...) are **bots**: no human clicked anything, and crawlerdetect agrees.
* An empty / missing user agent is ``device_type="other"`` and **not** a bot: the absence of
  a header proves nothing (privacy proxies and some in-app webviews strip it); callers that
  want to drop such hits can test ``browser is None``.
* device_type: ``bot`` for bots; ``tablet`` for iPads, Kindle/Fire, devices uap-core tags
  as tablets and Android without the ``Mobi`` token (Google's own guidance for telling
  Android tablets from phones); ``mobile`` for phones (iOS, Android with ``Mobi``, other
  mobile OSes); ``desktop`` for Windows, macOS, Linux and ChromeOS; ``other`` for TVs,
  consoles, unknown and empty agents. iPadOS Safari in its default "desktop site" mode
  sends a Mac user agent and is indistinguishable from a Mac: it comes out as desktop.
* Versions are the dotted parts ua-parser found (``124.0.6367.82``); browser/OS family
  ``Other`` becomes ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

from crawlerdetect import CrawlerDetect
from ua_parser import Matchers, Parser, Resolver

__all__ = ["DeviceInfo", "DeviceType", "parse_user_agent"]

DeviceType = Literal["desktop", "mobile", "tablet", "bot", "other"]

#: User agents longer than this are truncated before parsing (real ones are < 1 KB).
MAX_UA_LENGTH = 1_024

_MOBILE_OS = frozenset(
    {
        "iOS",
        "Android",
        "Windows Phone",
        "Windows Mobile",
        "BlackBerry OS",
        "BlackBerry Tablet OS",
        "KaiOS",
        "Firefox OS",
        "Symbian OS",
        "webOS",
        "HarmonyOS",
        "Sailfish",
        "Ubuntu Touch",
        "Tizen",
    }
)
_DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "macOS",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "ChromeOS",
        "Fedora",
        "Debian",
        "Red Hat",
        "SUSE",
        "openSUSE",
        "Mint",
        "Linux Mint",
        "Arch Linux",
        "Gentoo",
        "Mandriva",
        "CentOS",
        "Slackware",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
        "Kubuntu",
        "Xubuntu",
    }
)
_OTHER_DEVICE_RE = re.compile(
    r"(?:\bTV\b|SMART-TV|SmartTV|AppleTV|Apple TV|Chromecast|Roku|BRAVIA|PlayStation|Xbox|Nintendo|"
    r"OculusBrowser|Fire TV|AFT[A-Z]|HbbTV|CrKey|Web0S|NetCast|GoogleTV)",
)
_TABLET_DEVICE_RE = re.compile(r"(?:tablet|\bpad\b|kindle|\bKF[A-Z]{2,}|Galaxy Tab|\bSM-[TXP]\d)", re.IGNORECASE)
_MOBI_RE = re.compile(r"Mobi")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a user agent says about the visitor's device."""

    device_type: DeviceType
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    is_bot: bool


_EMPTY = DeviceInfo(device_type="other", browser=None, browser_version=None, os=None, os_version=None, is_bot=False)


@cache
def _parser() -> Parser:
    """The ua-parser parser with the fastest resolver that loads (built once, on first use)."""
    from ua_parser import BasicResolver, load_builtins, load_lazy_builtins

    try:
        from ua_parser.regex import Resolver as RsResolver  # the ua-parser-rs accelerator

        return Parser(RsResolver(load_lazy_builtins()))
    except Exception:  # accelerator missing or failing to load (wrong wheel...): fall back
        fallback: Callable[[Matchers], Resolver] = BasicResolver
    try:
        from ua_parser.re2 import Resolver as Re2Resolver

        return Parser(Re2Resolver(load_lazy_builtins()))
    except Exception:  # google-re2 is optional too
        return Parser(fallback(load_builtins()))


@cache
def _crawler_detect() -> CrawlerDetect:
    return CrawlerDetect()


def resolver_name() -> str:
    """Module path of the resolver in use (``ua_parser.regex`` means the Rust accelerator)."""
    return type(_parser().resolver).__module__


def _version(*parts: str | None) -> str | None:
    found: list[str] = []
    for part in parts:
        if part is None or part == "":
            break
        found.append(part)
    return ".".join(found) or None


def _family(value: str | None) -> str | None:
    if value is None or value == "Other":
        return None
    return value


def _device_type(ua: str, os_family: str | None, device_family: str | None, brand: str | None) -> DeviceType:
    device = " ".join(x for x in (device_family, brand) if x)
    if _OTHER_DEVICE_RE.search(ua) or (device and _OTHER_DEVICE_RE.search(device)):
        return "other"
    if device_family == "iPad" or (brand or "").endswith("_Tablet") or (device and _TABLET_DEVICE_RE.search(device)):
        return "tablet"
    if os_family == "Android" and not _MOBI_RE.search(ua):
        return "tablet"
    if device_family in ("iPhone", "iPod") or os_family in _MOBILE_OS or _MOBI_RE.search(ua):
        return "mobile"
    if os_family in _DESKTOP_OS or (os_family and "Linux" in os_family) or device_family == "Mac":
        return "desktop"
    return "other"


@lru_cache(maxsize=8_192)
def _parse(ua: str) -> DeviceInfo:
    result = _parser().parse(ua)
    agent, os, device = result.user_agent, result.os, result.device
    device_family = _family(device.family) if device else None
    is_bot = _crawler_detect().is_crawler(ua) or device_family == "Spider"
    os_family = _family(os.family) if os else None
    return DeviceInfo(
        device_type="bot" if is_bot else _device_type(ua, os_family, device_family, device.brand if device else None),
        browser=_family(agent.family) if agent else None,
        browser_version=_version(agent.major, agent.minor, agent.patch, agent.patch_minor) if agent else None,
        os=os_family,
        os_version=_version(os.major, os.minor, os.patch, os.patch_minor) if os else None,
        is_bot=is_bot,
    )


def parse_user_agent(ua: str | None) -> DeviceInfo:
    """Device type, browser, OS and bot flag of a ``User-Agent`` header value.

    Pure and cached (LRU, 8192 distinct agents). ``None`` / blank -> ``other``, not a bot.
    Input is stripped and truncated to :data:`MAX_UA_LENGTH` characters. Never raises.
    """
    if not ua:
        return _EMPTY
    text = ua.strip()[:MAX_UA_LENGTH]
    if not text:
        return _EMPTY
    try:
        return _parse(text)
    except Exception:  # a parser bug must never break ingestion
        return _EMPTY
