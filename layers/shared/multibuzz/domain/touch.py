"""A hit's marketing signals: UTM parameters, ad click ids, referrer and our own ``ref_code``.

:func:`extract_touch` turns the raw ``(landing_url, referrer)`` pair of a hit into a
normalised, immutable :class:`MarketingTouch`. It is pure, never raises and never does
I/O; garbage in gives an (emptier) touch out.

Normalisation
-------------
* Query parameter *names* are matched case-insensitively (``UTM_Source`` counts, and so
  does Snapchat's ``ScCid``). The first non-empty occurrence of a parameter wins.
* ``utm_source`` / ``utm_medium``: stripped, inner whitespace collapsed, lower-cased.
  Placeholder values that mean "nothing" (``(none)``, ``(not set)``, ``(direct)``,
  ``null``, ``undefined``, ``none``) become ``None``.
* ``utm_campaign`` / ``utm_content`` / ``utm_term``: stripped, case kept (reports show what
  the marketer typed); every comparison on them is case-insensitive.
* Click ids: stripped, case kept (they are opaque tokens), stored under their canonical
  lower-case name (``ScCid`` -> ``sccid``).
* ``referrer_host``: lower-case, no port, no trailing dot, and a single leading ``www.``
  label is always stripped (``www.google.co.uk`` -> ``google.co.uk``). Android app
  referrers (``android-app://com.google.android.gm/``) keep the package name as host.

Session splitting
-----------------
:meth:`MarketingTouch.campaign_key` identifies the marketing touch a hit carries. The
session rule (ARCHITECTURE.md section 3) is: a hit starts a new session when
``hit.campaign_key() is not None and hit.campaign_key() != session_campaign_key``, where
``session_campaign_key`` is the key of the session's first hit. A hit with no
utm_source/utm_medium/utm_campaign, no click id and no ref_code (``campaign_key() is None``)
never starts a session by itself; referrers are not part of the key, so an internal referrer
never starts one either (callers may additionally ignore the key of internally-referred hits,
as ``multibuzz.domain.sessions`` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CLICK_ID_PARAMS",
    "PAID_CLICK_IDS",
    "MarketingTouch",
    "extract_touch",
    "normalise_host",
]

#: Click-id query parameters we recognise, canonical (lower-case) name -> what sets it.
#: Order matters: it is the priority used by :meth:`MarketingTouch.campaign_key`.
CLICK_ID_PARAMS: Mapping[str, str] = MappingProxyType(
    {
        "gclid": "Google Ads",
        "gbraid": "Google Ads (iOS app-to-web)",
        "wbraid": "Google Ads (iOS web-to-app)",
        "dclid": "Google Display & Video 360 / Campaign Manager",
        "msclkid": "Microsoft Advertising",
        "ttclid": "TikTok Ads",
        "li_fat_id": "LinkedIn Ads",
        "twclid": "X (Twitter) Ads",
        "sccid": "Snapchat Ads (sent as ScCid)",
        "rdt_cid": "Reddit Ads",
        "epik": "Pinterest Ads",
        "fbclid": "Meta (added to paid AND organic clicks)",
    }
)

#: Click ids that prove an ad click (every one except fbclid, which Meta adds to organic
#: link clicks too).
PAID_CLICK_IDS: frozenset[str] = frozenset(CLICK_ID_PARAMS) - {"fbclid"}

_UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
_REF_CODE_PARAM = "ref_code"
_WANTED = frozenset((*_UTM_PARAMS, *CLICK_ID_PARAMS, _REF_CODE_PARAM))
_NULL_VALUES = frozenset({"(none)", "(not set)", "(not provided)", "(direct)", "null", "undefined", "none", "nil"})
_WHITESPACE = re.compile(r"\s+")
#: Hard bounds so a hostile URL cannot make parsing expensive.
_MAX_URL_LENGTH = 16_384
_MAX_VALUE_LENGTH = 1_024
_MAX_QUERY_FIELDS = 200


@dataclass(frozen=True, slots=True)
class MarketingTouch:
    """The marketing signals of one hit (normally a session's first hit).

    Build it with :func:`extract_touch`; the constructor does no normalisation.
    ``click_ids`` maps canonical click-id names (see :data:`CLICK_ID_PARAMS`) to values and
    is excluded from hashing (equality still compares it).
    """

    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    click_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    referrer: str | None = None
    referrer_host: str | None = None
    landing_url: str | None = None
    ref_code: str | None = None

    @property
    def has_utm(self) -> bool:
        """True when any ``utm_*`` parameter is present."""
        return any(
            v is not None
            for v in (self.utm_source, self.utm_medium, self.utm_campaign, self.utm_content, self.utm_term)
        )

    @property
    def paid_click_id(self) -> tuple[str, str] | None:
        """``(name, value)`` of the highest-priority ad click id (fbclid excluded), if any."""
        for name in CLICK_ID_PARAMS:
            if name in PAID_CLICK_IDS and name in self.click_ids:
                return name, self.click_ids[name]
        return None

    def campaign_key(self) -> tuple[str | None, ...] | None:
        """What identifies this hit's marketing touch, for session splitting; ``None`` if none.

        The key is ``(utm_source, utm_medium, utm_campaign, click_id, ref_code)``:

        * ``utm_source`` / ``utm_medium`` as normalised (lower-case); ``utm_campaign``
          case-folded, so ``Spring_Sale`` and ``spring_sale`` are the same campaign.
          ``utm_content`` / ``utm_term`` are deliberately left out: two ads of one
          campaign are one marketing touch.
        * ``click_id``: the value of the highest-priority click id in
          :data:`CLICK_ID_PARAMS` order — an ad click id (gclid, gbraid, wbraid, dclid,
          msclkid, ttclid, li_fat_id, twclid, sccid, rdt_cid, epik) when there is one,
          else fbclid. Each ad click mints a fresh id, so a second click on the same ad
          is a new touch, while a reload of the landing page (same id) is not. fbclid
          counts only when no ad click id is present: it is still a fresh click from Meta.
        * ``ref_code``: our tracking link's code. A click on an influencer link is a
          marketing touch (it classifies as affiliate) even without UTMs.

        Returns ``None`` when the hit has no utm_source/medium/campaign, no click id and no
        ref_code: such a hit (plain navigation, internal referrer, referrer-only visit)
        never starts a session by itself. A hit starts a new session when its key is not
        ``None`` and differs from the key of the session's first hit. Treat the tuple as
        opaque: compare it for equality, do not index into it.
        """
        click: str | None = None
        paid = self.paid_click_id
        if paid is not None:
            click = paid[1]
        elif "fbclid" in self.click_ids:
            click = self.click_ids["fbclid"]
        campaign = self.utm_campaign.casefold() if self.utm_campaign is not None else None
        if (self.utm_source, self.utm_medium, campaign, click, self.ref_code) == (None, None, None, None, None):
            return None
        return (self.utm_source, self.utm_medium, campaign, click, self.ref_code)


def _clean(value: str, *, lower: bool) -> str | None:
    value = _WHITESPACE.sub(" ", value.strip())[:_MAX_VALUE_LENGTH]
    if not value:
        return None
    if lower:
        value = value.lower()
        if value in _NULL_VALUES:
            return None
    return value


def normalise_host(value: str | None) -> str | None:
    """Host of a URL (or a bare host), lower-case, without port, trailing dot or ``www.``.

    Accepts full URLs (``https://www.google.com/search?q=x``), scheme-less values
    (``google.com/path``, ``//google.com``) and bare hosts. Returns ``None`` for
    anything without a usable host. Never raises.
    """
    if not value:
        return None
    text = value.strip()[:_MAX_URL_LENGTH]
    if not text:
        return None
    if "://" not in text and not text.startswith("//"):
        if ":" in text.split("/", 1)[0] and not re.match(r"^[\w.-]+:\d+(?:/|$)", text):
            return None  # "about:blank", "mailto:x", "javascript:..."
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    if not host or any(c.isspace() for c in host):
        return None
    return host


def _wanted_params(query: str, found: dict[str, str]) -> None:
    """Add the wanted parameters of ``query`` that ``found`` lacks (first non-empty value wins)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=False)
    except ValueError:
        return
    for count, (raw_name, raw_value) in enumerate(pairs):
        if count >= _MAX_QUERY_FIELDS:
            break
        name = raw_name.strip().lower()
        if name in _WANTED and name not in found and raw_value.strip():
            found[name] = raw_value


def _query_params(url: str) -> dict[str, str]:
    """Wanted parameters of ``url`` (canonical lower-case names, first non-empty value): from the query
    string, then — for the names the query lacks — from the fragment, where single-page apps and some
    email tools put them (``/#utm_source=x&utm_medium=email``, ``/#/product/42?utm_source=x``,
    ``/app#!/home?gclid=...``): the fragment's part after its first ``?``, else the whole fragment."""
    text = url[:_MAX_URL_LENGTH]
    try:
        parts = urlsplit(text)
        query, fragment = parts.query, parts.fragment
    except ValueError:
        # urlsplit rejects malformed netlocs (e.g. "http://[::1"); the query may still be usable.
        before, _, fragment = text.partition("#")
        _, sep, rest = before.partition("?")
        query = rest if sep else ""
    found: dict[str, str] = {}
    if query:
        _wanted_params(query, found)
    if fragment and "=" in fragment:
        _, sep, after = fragment.partition("?")
        _wanted_params(after if sep else fragment.lstrip("!/"), found)
    return found


def extract_touch(landing_url: str | None, referrer: str | None) -> MarketingTouch:
    """Parse a hit's landing URL and referrer into a :class:`MarketingTouch`.

    UTM parameters, click ids and ``ref_code`` are read from the landing URL's query
    string, then from its fragment for names the query lacks (see :func:`_query_params`);
    the referrer only contributes ``referrer`` / ``referrer_host``. Tolerates any
    garbage (non-URLs, broken IPv6 hosts, bad percent-escapes, huge inputs) and never
    raises: unparseable parts are simply absent.
    """
    landing = landing_url.strip() if isinstance(landing_url, str) and landing_url.strip() else None
    ref = referrer.strip() if isinstance(referrer, str) and referrer.strip() else None
    params = _query_params(landing) if landing else {}

    def utm(name: str, *, lower: bool) -> str | None:
        raw = params.get(name)
        return _clean(raw, lower=lower) if raw is not None else None

    click_ids: dict[str, str] = {}
    for name in CLICK_ID_PARAMS:
        raw = params.get(name)
        if raw is not None and (cleaned := _clean(raw, lower=False)) is not None:
            click_ids[name] = cleaned
    ref_code_raw = params.get(_REF_CODE_PARAM)
    return MarketingTouch(
        utm_source=utm("utm_source", lower=True),
        utm_medium=utm("utm_medium", lower=True),
        utm_campaign=utm("utm_campaign", lower=False),
        utm_content=utm("utm_content", lower=False),
        utm_term=utm("utm_term", lower=False),
        click_ids=MappingProxyType(click_ids),
        referrer=ref,
        referrer_host=normalise_host(ref),
        landing_url=landing,
        ref_code=_clean(ref_code_raw, lower=False) if ref_code_raw is not None else None,
    )
