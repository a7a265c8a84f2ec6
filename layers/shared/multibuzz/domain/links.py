"""Tracking links: codes, destination validation, default UTMs and the redirect ``Location``.

Decisions
---------
* Codes are ``CODE_LENGTH`` (8) characters from a 31-character lower-case alphabet (a-z, 2-9 minus
  the look-alikes ``0 o 1 l i``), drawn with ``secrets``: ~39.6 bits, non-sequential and URL-safe.
  Lower case only, because /r/{code} and ``ref_code`` get retyped, lower-cased by apps, and compared
  under MySQL's case-insensitive collations; codes are looked up lower-cased.
* Destinations must be absolute ``http``/``https`` URLs with a host, no credentials
  (``user:pass@``), no whitespace, control, format or separator characters (ASCII or Unicode: U+2028,
  U+00A0, bidi overrides...), at most 2048 characters once percent-encoded.
* Destinations are IRIs in, URIs out: :func:`iri_to_uri` turns a non-ASCII host into IDNA
  (``xn--``, the standard library's IDNA 2003 codec) and percent-encodes the UTF-8 of anything in the
  path, query and fragment that may not appear raw in a URI (non-ASCII, space, ``"<>\\^`{|}``, a ``%``
  not followed by two hex digits); existing ``%XX`` escapes are kept, so it never double-encodes. Links
  are stored in that form at creation, and the redirect converts again (a no-op for stored URIs) when it
  builds a link's template, so rows stored before this rule also get a valid ``Location``.
* Loopback / private destinations: an IP-literal host that is not globally routable (loopback,
  RFC 1918 private, link-local incl. 169.254.169.254, CGNAT, multicast, unspecified, reserved,
  documentation; IPv4-mapped IPv6 judged by its IPv4) is refused, and so are ``localhost`` and
  ``*.localhost``. A numeric host must be a canonical dotted quad (``127.1``, ``2130706433`` and
  ``0x7f.0.0.1`` are what browsers read as 127.0.0.1). Host names are NOT resolved: a public name that
  points to a private address is accepted (DNS can change after creation anyway; the redirect only
  sends the visitor's browser there, it never fetches the destination itself).
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
#: Unicode categories refused anywhere in a destination: controls, format (bidi overrides, zero-width),
#: separators (U+00A0, U+2028, U+3000...), surrogates, private use, unassigned.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
#: What may appear raw in a URI's path/query/fragment (RFC 3986 unreserved + reserved + "%" of an escape);
#: anything else, or a "%" that does not start an escape, is percent-encoded as UTF-8.
_NEEDS_ENCODING = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]|%(?![0-9A-Fa-f]{2})")
_DOTTED_QUAD = re.compile(
    r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
)
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0[xX][0-9a-fA-F]*)$")
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


def _percent_encode(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


def _ascii_host(host: str) -> str:
    """A host as it goes on the wire: IDNA for a non-ASCII name (``UnicodeError`` if it can't be one)."""
    if host.isascii():
        return host
    return host.lower().encode("idna").decode("ascii")


def iri_to_uri(url: str) -> str:
    """``url`` as a URI that is a valid HTTP header value (see the module docstring). Never raises:
    a host that isn't a valid IDNA name (only possible for rows stored before validation) is
    percent-encoded instead, which is still a syntactically valid URI."""
    if _NEEDS_ENCODING.search(url) is None:
        return url  # the common case, and every link stored since validation: no work
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host of an old row: encode what can't stay raw
        return _NEEDS_ENCODING.sub(_percent_encode, url)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport, "", ""
        if not hostport.endswith("]") and ":" in hostport:
            host, colon, port = hostport.rpartition(":")
        try:
            host = _ascii_host(host)
        except UnicodeError:
            host = _NEEDS_ENCODING.sub(_percent_encode, host)
        netloc = _NEEDS_ENCODING.sub(_percent_encode, userinfo) + at + host + colon + port
    netloc = _NEEDS_ENCODING.sub(_percent_encode, netloc)

    def encode(text: str) -> str:
        return _NEEDS_ENCODING.sub(_percent_encode, text)

    scheme = encode(parts.scheme)
    rebuilt = urlunsplit((scheme, netloc, encode(parts.path), encode(parts.query), encode(parts.fragment)))
    # urlunsplit drops an empty "?" or "#"; keep them as the visitor wrote them
    if parts.fragment == "" and url.endswith("#"):
        rebuilt += "#"
    return rebuilt


def _refuse_internal_host(host: str, field: str) -> None:
    """422 for a destination that points at the visitor's own machine or a non-public network."""
    import ipaddress  # lazily: link creation only, keeps the redirect's cold start lean

    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        raise InvalidInputError(
            f"destination URL must not point to localhost or a loopback address ({host})", field=field
        )
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    if ":" in name:
        try:
            address = ipaddress.IPv6Address(name)
        except ValueError as exc:
            raise InvalidInputError("destination URL must have a valid host name", field=field) from exc
        mapped = address.ipv4_mapped
        if mapped is not None:
            address = mapped
    elif _NUMERIC_LABEL.match(name.rsplit(".", 1)[-1]):
        if not _DOTTED_QUAD.match(name):
            raise InvalidInputError(
                f"destination URL: a numeric host must be a dotted-quad IPv4 address like 203.0.113.7 ({host})",
                field=field,
            )
        address = ipaddress.IPv4Address(name)
    else:
        return  # a host name: not resolved (see the module docstring)
    if address.is_loopback:
        raise InvalidInputError(f"destination URL must not point to a loopback address ({host})", field=field)
    if not address.is_global or address.is_private or address.is_multicast or address.is_reserved:
        raise InvalidInputError(
            f"destination URL must not point to a private, link-local, multicast or reserved address ({host})",
            field=field,
        )


def _refuse_unsafe_characters(value: str, field: str) -> None:
    bad = _UNSAFE_CHARS.search(value) is not None
    if not bad and not value.isascii():
        import unicodedata  # lazily: link creation only

        bad = any(unicodedata.category(char) in _UNSAFE_CATEGORIES for char in value if not char.isascii())
    if bad:
        raise InvalidInputError(
            "destination URL must not contain spaces, backslashes or control characters", field=field
        )


def validate_destination(url: str, field: str = "destination_url") -> str:
    """An absolute http(s) URL, returned in its URI form (:func:`iri_to_uri`), or a 422 that says why not."""
    value = (url or "").strip()
    if not value:
        raise InvalidInputError("destination URL is required", field=field)
    if len(value) > MAX_URL_LENGTH:
        raise InvalidInputError(f"destination URL must be at most {MAX_URL_LENGTH} characters", field=field)
    _refuse_unsafe_characters(value, field)
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
    try:
        host = _ascii_host((parts.hostname or "").lower())
    except UnicodeError as exc:
        raise InvalidInputError("destination URL must have a valid host name", field=field) from exc
    if not host or not _HOST_RE.fullmatch(host if ":" not in host else f"[{host}]"):
        raise InvalidInputError("destination URL must have a valid host name", field=field)
    if port == 0:
        raise InvalidInputError("destination URL has an invalid port", field=field)
    _refuse_internal_host(host, field)
    uri = iri_to_uri(value)
    if len(uri) > MAX_URL_LENGTH:
        raise InvalidInputError(
            f"destination URL must be at most {MAX_URL_LENGTH} characters once percent-encoded", field=field
        )
    return uri


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
