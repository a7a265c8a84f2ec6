"""Tracking links: codes, destination validation, default UTMs and the redirect ``Location``.

Decisions
---------
* Codes are ``CODE_LENGTH`` (8) characters from a 31-character lower-case alphabet (a-z, 2-9 minus
  the look-alikes ``0 o 1 l i``), drawn with ``secrets``: ~39.6 bits, non-sequential and URL-safe.
  Lower case only, because /r/{code} and ``ref_code`` get retyped, lower-cased by apps, and compared
  under MySQL's case-insensitive collations; codes are looked up lower-cased.
* Destinations must be absolute ``http``/``https`` URLs with a host, no credentials
  (``user:pass@``), no whitespace or control characters, at most 2048 characters.
* Default UTMs (utm_source = influencer handle, utm_medium = ``affiliate``, utm_campaign = campaign
  slug) are added only when the destination carries none of utm_source/utm_medium/utm_campaign:
  mixing ours with the advertiser's own would produce a campaign nobody set up.
* The redirect keeps the destination's query and fragment byte for byte, drops any ``ref_code``
  already there, appends ``ref_code={code}``, and, when the link allows it, lets ``utm_*`` parameters
  of the incoming request replace the destination's ones of the same name.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from multibuzz.errors import InvalidInputError

CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 8
CODE_RE = re.compile(r"^[a-z0-9]{4,32}$")
MAX_URL_LENGTH = 2048
REF_CODE_PARAM = "ref_code"
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id")
_CORE_UTMS = frozenset(("utm_source", "utm_medium", "utm_campaign"))
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_RE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?$|^\[[0-9a-f:.]+\]$"
)

#: User-agent fragments of services that fetch a link to build a preview card, not people clicking it.
LINK_PREVIEW_AGENTS: tuple[str, ...] = (
    "facebookexternalhit",
    "facebot",
    "meta-externalagent",
    "twitterbot",
    "slackbot",
    "slack-imgproxy",
    "linkedinbot",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "skypeuripreview",
    "microsoftpreview",
    "pinterestbot",
    "redditbot",
    "applebot",
    "embedly",
    "iframely",
    "vkshare",
    "snapchat",
    "viber",
    "bluesky cardyb",
    "mastodon",
    "google-pagerenderer",
    "googleother",
    "bitlybot",
    "outbrain",
    "quora link preview",
    "tumblr",
    "line-poker",
    "kakaotalk-scrap",
)


def generate_code(choice: Callable[[str], str] = secrets.choice, length: int = CODE_LENGTH) -> str:
    return "".join(choice(CODE_ALPHABET) for _ in range(length))


def normalize_code(code: str) -> str | None:
    """The lookup form of a code from a URL, or None when it can't be one of ours."""
    value = code.strip().lower()
    return value if CODE_RE.fullmatch(value) else None


def validate_destination(url: str, field: str = "destination_url") -> str:
    """An absolute http(s) URL, or a 422 that says why not."""
    value = (url or "").strip()
    if not value:
        raise InvalidInputError("destination URL is required", field=field)
    if len(value) > MAX_URL_LENGTH:
        raise InvalidInputError(f"destination URL must be at most {MAX_URL_LENGTH} characters", field=field)
    if _UNSAFE_CHARS.search(value):
        raise InvalidInputError(
            "destination URL must not contain spaces, backslashes or control characters", field=field
        )
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a bad port
    except ValueError as exc:
        raise InvalidInputError(f"destination URL is malformed: {exc}", field=field) from exc
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "none"
        raise InvalidInputError(f"destination URL must use http or https (scheme: {shown})", field=field)
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise InvalidInputError("destination URL must not contain credentials (user:password@)", field=field)
    host = (parts.hostname or "").lower()
    if not host or not _HOST_RE.fullmatch(host if ":" not in host else f"[{host}]"):
        raise InvalidInputError("destination URL must have a valid host name", field=field)
    if port == 0:
        raise InvalidInputError("destination URL has an invalid port", field=field)
    return value


def _param_names(query: str) -> list[str]:
    return [unquote_plus(part.split("=", 1)[0]).lower() for part in query.split("&") if part]


def has_core_utms(url: str) -> bool:
    return any(name in _CORE_UTMS for name in _param_names(urlsplit(url).query))


def with_default_utms(url: str, *, source: str, campaign: str, medium: str = "affiliate") -> str:
    """``url`` with our default UTMs appended, unless it already has utm_source/medium/campaign."""
    if has_core_utms(url):
        return url
    return merge_query(url, (("utm_source", source), ("utm_medium", medium), ("utm_campaign", campaign)))


def merge_query(url: str, params: Iterable[tuple[str, str]], *, replace: Iterable[str] = ()) -> str:
    """Append ``params`` to ``url``'s query, first dropping existing parameters named in ``replace`` or
    in ``params`` (names compared case-insensitively). Other parameters and the fragment are kept verbatim."""
    params = list(params)
    drop = {name.lower() for name in replace} | {name.lower() for name, _ in params}
    parts = urlsplit(url)
    kept = [part for part in parts.query.split("&") if part and unquote_plus(part.split("=", 1)[0]).lower() not in drop]
    added = [f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in params]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept + added), parts.fragment))


def forwarded_utms(incoming: Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """The non-empty utm_* parameters of the incoming request (first of each; names lower-cased)."""
    if not incoming:
        return []
    found: dict[str, str] = {}
    for name, value in incoming:
        key = name.lower()
        if key in UTM_PARAMS and value and key not in found:
            found[key] = value[:500]
    return [(name, found[name]) for name in UTM_PARAMS if name in found]


def build_location(
    destination: str,
    code: str,
    *,
    incoming_query: Iterable[tuple[str, str]] | None = None,
    forward_utms: bool = True,
) -> str:
    """Where /r/{code} sends the visitor: the destination plus ``ref_code`` (and forwarded UTMs)."""
    params = forwarded_utms(incoming_query) if forward_utms else []
    params.append((REF_CODE_PARAM, code))
    return merge_query(destination, params)


def is_link_preview(user_agent: str | None) -> bool:
    if not user_agent:
        return False
    lowered = user_agent.lower()
    return any(agent in lowered for agent in LINK_PREVIEW_AGENTS)


_PURPOSE_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")


def is_prefetch(headers: Mapping[str, str]) -> bool:
    """Browser speculative loads (``Purpose``/``Sec-Purpose: prefetch``) are not clicks either."""
    for name in _PURPOSE_HEADERS:
        value = headers.get(name)
        if value:
            lowered = value.lower()
            if "prefetch" in lowered or "preview" in lowered:
                return True
    return False
