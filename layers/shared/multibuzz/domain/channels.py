"""Channel classification: an ordered rule table in the spirit of GA4's default channel group.

:func:`classify` maps a :class:`~multibuzz.domain.touch.MarketingTouch` (normally a
session's first hit) to exactly one channel of :class:`Channel`:

    paid_search, paid_social, paid_shopping, paid_video, display, affiliate, email, sms,
    organic_search, organic_social, organic_shopping, video, referral, direct, other

Inputs and vocabulary
---------------------
* *medium*: ``utm_medium`` lower-cased with runs of space / ``-`` / ``.`` turned into ``_``
  (``Social-Media`` -> ``social_media``, ``e-mail`` -> ``e_mail``).
* *source category*: the category of ``utm_source`` in the ``sources`` section of
  ``data/referrers.json`` (``fb`` -> social, ``klaviyo`` -> email, ``awin`` -> affiliate), or
  of the host table when the source looks like a host (``chatgpt.com``); when
  ``utm_source`` is absent **or unknown**, the category of the external referrer host.
* *referrer category*: :func:`lookup_referrer` on the referrer host. A referrer whose host
  is one of the account's ``internal_hosts`` (or a subdomain of one) is ignored entirely.
* *ad click id*: gclid/gbraid/wbraid/msclkid (Google & Microsoft -> search family),
  ttclid/li_fat_id/twclid/sccid/rdt_cid/epik (social family), dclid (DV360/CM360 -> display).
  fbclid is **not** an ad click id: Meta adds it to organic link clicks too.

Rule order (first match wins)
-----------------------------
0. **Custom rules** of the account (:class:`ChannelRule`), in the order given.
1. **Paid** — the touch has an ad click id, or a paid medium (GA4's
   ``^(.*cp.*|ppc|retargeting|paid.*)$`` plus ``sem``, ``remarketing``, ``*_paid``, ``ads``,
   ``*_ads``, ``pla``, ``pmax``), or a display medium (display, banner, expandable,
   interstitial, programmatic, native, rich_media, gdn). The paid sub-channel is decided by
   the first of:

   a. campaign matches GA4's shopping regex (``(^|[^a-df-z])shop|shopping``), or the source
      category is shopping, or the medium is a paid-shopping medium (``paid_shopping``,
      ``shopping_ads``, ``pla``...) -> paid_shopping;
   b. display medium -> display;
   c. explicit paid mediums: ``cpv`` / ``paid_video`` / any medium containing ``video`` ->
      paid_video; ``paid_social`` / ``social_ads``... -> paid_social; ``paid_search`` /
      ``sem``... -> paid_search;
   d. source category: search -> paid_search, social -> paid_social, video -> paid_video,
      display -> display, affiliate/email/sms -> that channel (``awin`` + ``cpa``);
   e. with an ad click id, the answers of a-d are kept only if they are paid_shopping,
      paid_video or display (an explicit statement that the Google/Microsoft ad is a
      Shopping, YouTube or display ad); otherwise the click id decides: search family ->
      paid_search, social family -> paid_social, dclid -> display;
   f. otherwise a-d's answer; failing that the medium's own meaning: ``ppc`` -> paid_search,
      ``cpm`` / ``retargeting`` / ``remarketing`` -> display;
   g. paid but unattributable (``utm_medium=cpc`` from an unknown source with no telling
      referrer) -> other (GA4 calls this "Paid Other", which our taxonomy folds into other).
2. **Explicit non-paid mediums**: email/e_mail/newsletter... -> email; sms/text/mms -> sms;
   affiliate(s)/partner(s)/influencer(s)/creator(s)/ambassador(s) -> affiliate;
   social/social_network/social_media/sm/organic_social -> organic_social;
   shopping/organic_shopping/free_listing(s) -> organic_shopping; any medium containing
   ``video`` -> video; organic/organic_search/seo -> organic_search (organic_social /
   video / organic_shopping instead when the source category says so);
   referral/referrer/link -> referral.
   Unlike GA4 (where ``utm_source=facebook&utm_medium=email`` is "Organic Social"), an
   explicit medium beats the source category: the marketer said what it is.
3. **ref_code** in the landing URL (our tracking-link redirect) -> affiliate. It comes after
   1-2, so UTMs that clearly say otherwise (``utm_medium=email``, ``cpc``...) win, and
   before 4-7, so an influencer link shared on Instagram is affiliate, not organic_social.
4. **UTM-tagged traffic by source category**: search -> organic_search, social ->
   organic_social, video -> video, shopping -> organic_shopping, email -> email, sms -> sms,
   affiliate -> affiliate, display -> display, referral -> referral.
5. **fbclid** with no referrer (in-app browsers drop it) or a social referrer ->
   organic_social.
6. **UTMs that match nothing** (any ``utm_*`` present but rules 1-5 did not fire) -> other.
7. **Referrer only**: no (external) referrer -> direct; a known host -> its category's
   channel as in 4 (webmail -> email, youtube.com -> video, amazon -> organic_shopping,
   docs.google.com -> referral ...); any other external host -> referral.

Performance: regexes are precompiled, the data table is loaded once (lazily, on first use),
host / source / medium lookups are ``lru_cache``d, and internal-host sets are cached per
distinct collection. A call is a handful of dict lookups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from multibuzz.domain.touch import MarketingTouch, normalise_host

__all__ = [
    "CHANNELS",
    "Channel",
    "ChannelRule",
    "ReferrerMatch",
    "RuleCondition",
    "classify",
    "is_internal_referrer",
    "lookup_referrer",
    "lookup_source",
    "referrer_table_stats",
]


class Channel(StrEnum):
    """The channel taxonomy. Values are the strings stored and reported."""

    PAID_SEARCH = "paid_search"
    PAID_SOCIAL = "paid_social"
    PAID_SHOPPING = "paid_shopping"
    PAID_VIDEO = "paid_video"
    DISPLAY = "display"
    AFFILIATE = "affiliate"
    EMAIL = "email"
    SMS = "sms"
    ORGANIC_SEARCH = "organic_search"
    ORGANIC_SOCIAL = "organic_social"
    ORGANIC_SHOPPING = "organic_shopping"
    VIDEO = "video"
    REFERRAL = "referral"
    DIRECT = "direct"
    OTHER = "other"


CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)

# --------------------------------------------------------------------------------------
# Referrer / source table
# --------------------------------------------------------------------------------------

#: Categories of the host table and what referrer-only traffic of that category becomes.
_CATEGORY_CHANNEL: Mapping[str, Channel] = {
    "search": Channel.ORGANIC_SEARCH,
    "social": Channel.ORGANIC_SOCIAL,
    "video": Channel.VIDEO,
    "shopping": Channel.ORGANIC_SHOPPING,
    "email": Channel.EMAIL,
    "sms": Channel.SMS,
    "affiliate": Channel.AFFILIATE,
    "display": Channel.DISPLAY,
    "referral": Channel.REFERRAL,
}
_HOST_CATEGORIES = frozenset({"search", "social", "video", "shopping", "email", "display", "referral"})
_SOURCE_CATEGORIES = _HOST_CATEGORIES | {"sms", "affiliate"}
#: Generic second-level labels under a two-letter country code: google.co.uk, google.com.br.
_GENERIC_SLDS = frozenset(
    {"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go", "gob", "gv", "ltd", "plc", "sch", "nic", "mil"}
)
_HOST_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*(?:\.\*)?$")


@dataclass(frozen=True, slots=True)
class ReferrerMatch:
    """What the data table says about a host or a utm_source: its category and display name."""

    category: str
    name: str


@dataclass(frozen=True, slots=True)
class _Table:
    hosts: Mapping[str, ReferrerMatch]  # exact hosts and "stem.*" wildcards
    label_prefixes: Mapping[str, ReferrerMatch]
    sources: Mapping[str, ReferrerMatch]


def _normalise_source(value: str) -> str:
    return " ".join(value.strip().lower().split())


def _build_table(raw: Mapping[str, Any]) -> _Table:
    """Validate and flatten the JSON document (raises ``ValueError`` on a bad table)."""
    hosts: dict[str, ReferrerMatch] = {}
    for category, names in raw["hosts"].items():
        if category not in _HOST_CATEGORIES:
            raise ValueError(f"referrers.json: unknown host category {category!r}")
        for name, patterns in names.items():
            for pattern in patterns:
                key = pattern.strip().lower()
                if key.startswith("www.") or not _HOST_RE.match(key):
                    raise ValueError(f"referrers.json: bad host pattern {pattern!r}")
                if key in hosts:
                    raise ValueError(f"referrers.json: host {key!r} listed twice")
                hosts[key] = ReferrerMatch(category, name)
    prefixes: dict[str, ReferrerMatch] = {}
    for label, (category, name) in raw.get("label_prefixes", {}).items():
        if category not in _HOST_CATEGORIES:
            raise ValueError(f"referrers.json: unknown prefix category {category!r}")
        prefixes[label.lower()] = ReferrerMatch(category, name)

    # Derived source names: the first label of two-label hosts / "brand.*" wildcards.
    exclude = {x.lower() for x in raw.get("source_alias_exclude", [])}
    derived: dict[str, ReferrerMatch | None] = {}
    for key, match in hosts.items():
        if match.category == "referral":
            continue
        labels = key.split(".")
        if len(labels) != 2 or len(labels[0]) < 3 or labels[0] in exclude:
            continue
        previous = derived.get(labels[0], match)
        # Two categories claiming one name make it ambiguous: derive nothing.
        derived[labels[0]] = match if previous is not None and previous.category == match.category else None
    sources: dict[str, ReferrerMatch] = {k: v for k, v in derived.items() if v is not None}
    explicit: set[str] = set()
    for category, names in raw.get("sources", {}).items():
        if category not in _SOURCE_CATEGORIES:
            raise ValueError(f"referrers.json: unknown source category {category!r}")
        for name, aliases in names.items():
            for alias in aliases:
                key = _normalise_source(alias)
                if key in explicit:
                    raise ValueError(f"referrers.json: source {key!r} listed twice")
                explicit.add(key)
                sources[key] = ReferrerMatch(category, name)
    return _Table(hosts=hosts, label_prefixes=prefixes, sources=sources)


@cache
def _table() -> _Table:
    """The referrer table, read from package data on first use (no I/O at import time)."""
    text = resources.files("multibuzz").joinpath("data", "referrers.json").read_text(encoding="utf-8")
    return _build_table(json.loads(text))


def _suffix_length(labels: Sequence[str]) -> int:
    """Number of trailing labels forming the public suffix for ``brand.*`` matching."""
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GENERIC_SLDS:
        return 2
    return 1


@lru_cache(maxsize=16_384)
def lookup_referrer(host: str | None) -> ReferrerMatch | None:
    """Category and name of a referrer host (or URL), or ``None`` if the table doesn't know it.

    Walks up the host's labels from most to least specific; at each level it tries the exact
    host, then the ``stem.*`` wildcard (same labels, any public suffix), then — if the first
    label sits on top of a registrable domain — the webmail label prefixes
    (``webmail.``, ``mail.`` ...). So ``uk.search.yahoo.com`` finds ``search.yahoo.*``,
    ``mail.yahoo.co.jp`` finds ``mail.yahoo.*`` (email) before ``yahoo.*`` (search), and
    ``webmail.example.org`` is email.
    """
    normalised = normalise_host(host)
    if normalised is None:
        return None
    table = _table()
    labels = normalised.split(".")
    suffix = _suffix_length(labels)
    for i in range(max(len(labels) - suffix, 1)):
        exact = ".".join(labels[i:])
        if (match := table.hosts.get(exact)) is not None:
            return match
        stem = labels[i : len(labels) - suffix]
        if stem and (match := table.hosts.get(".".join(stem) + ".*")) is not None:
            return match
        if len(stem) >= 2 and (match := table.label_prefixes.get(labels[i])) is not None:
            return match
    return None


@lru_cache(maxsize=4_096)
def lookup_source(utm_source: str | None) -> ReferrerMatch | None:
    """Category and name of a ``utm_source`` value (``fb``, ``Google``, ``chatgpt.com`` ...)."""
    if not utm_source:
        return None
    key = _normalise_source(utm_source)
    table = _table()
    if (match := table.sources.get(key)) is not None:
        return match
    for variant in (key.replace(" ", "_"), key.replace("_", " "), key.replace("-", "_")):
        if (match := table.sources.get(variant)) is not None:
            return match
    if "." in key and " " not in key:
        return lookup_referrer(key)
    return None


# --------------------------------------------------------------------------------------
# Internal referrers
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=1_024)
def _internal_set(hosts: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for raw in hosts:
        text = raw.strip()
        if text.startswith("*."):
            text = text[2:]
        host = normalise_host(text)
        if host:
            out.add(host)
    return frozenset(out)


def _as_internal_set(internal_hosts: Collection[str]) -> frozenset[str]:
    if not internal_hosts:
        return frozenset()
    if isinstance(internal_hosts, str):  # a lone host passed by mistake: still do the right thing
        return _internal_set((internal_hosts,))
    return _internal_set(tuple(internal_hosts))


def _host_in(host: str, internal: frozenset[str]) -> bool:
    if host in internal:
        return True
    start = host.find(".")
    while start != -1:
        if host[start + 1 :] in internal:
            return True
        start = host.find(".", start + 1)
    return False


def is_internal_referrer(referrer: str | None, internal_hosts: Collection[str]) -> bool:
    """True when ``referrer`` (a URL or a host) is the account's own site or a subdomain of it.

    ``internal_hosts`` may hold bare hosts, URLs or ``*.example.com``; ``www.`` and ports are
    ignored on both sides, so ``www.example.com`` makes ``blog.example.com`` internal too.
    An internal referrer never classifies a session and never starts one.
    """
    host = normalise_host(referrer)
    if host is None:
        return False
    internal = _as_internal_set(internal_hosts)
    return bool(internal) and _host_in(host, internal)


# --------------------------------------------------------------------------------------
# Custom rules
# --------------------------------------------------------------------------------------

RuleField = Literal[
    "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "referrer_host", "landing_url", "click_id"
]
RuleOp = Literal["equals", "contains", "starts_with", "regex", "in", "exists"]

MAX_REGEX_LENGTH = 256
MAX_VALUE_LENGTH = 512
_REGEX_SUBJECT_LIMIT = 4_096  # bound the text a custom regex runs on


@lru_cache(maxsize=1_024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


class RuleCondition(BaseModel):
    """One condition of a :class:`ChannelRule`; every comparison is case-insensitive.

    * ``equals`` / ``contains`` / ``starts_with``: ``value`` is a string.
    * ``regex``: ``value`` is a Python regex of at most :data:`MAX_REGEX_LENGTH` characters,
      searched (not anchored) in the field; compiled once.
    * ``in``: ``value`` is a non-empty list of strings; the field equals one of them.
    * ``exists``: ``value`` is ``true`` (default) / ``false``: the field is present / absent.

    ``field`` is a normalised touch attribute (``referrer_host`` has no ``www.``). For
    ``click_id`` the field is the set of click-id *names* present (``gclid``, ``fbclid`` ...):
    ``{"field": "click_id", "op": "equals", "value": "gclid"}`` means "has a gclid".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: RuleField
    op: RuleOp
    value: Annotated[str | list[str] | bool | None, Field(validate_default=True)] = None

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str | list[str] | bool | None, info: ValidationInfo) -> str | list[str] | bool | None:
        op = info.data.get("op")
        if op is None:  # op itself failed validation; that error is reported already
            return value
        if op == "exists":
            if value is None:
                return True
            if not isinstance(value, bool):
                raise ValueError("value must be true or false for op 'exists'")
            return value
        if op == "in":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise ValueError("value must be a non-empty list of strings for op 'in'")
            if any(len(v) > MAX_VALUE_LENGTH for v in value):
                raise ValueError(f"value items must be at most {MAX_VALUE_LENGTH} characters")
            return value
        if not isinstance(value, str) or value == "":
            raise ValueError(f"value must be a non-empty string for op {op!r}")
        if op == "regex":
            if len(value) > MAX_REGEX_LENGTH:
                raise ValueError(f"value must be a regex of at most {MAX_REGEX_LENGTH} characters")
            try:
                _compiled(value)
            except re.error as exc:
                raise ValueError(f"value is not a valid regex: {exc}") from exc
        elif len(value) > MAX_VALUE_LENGTH:
            raise ValueError(f"value must be at most {MAX_VALUE_LENGTH} characters")
        return value

    def matches(self, touch: MarketingTouch) -> bool:
        """Whether ``touch`` satisfies this condition."""
        subjects = _field_values(touch, self.field)
        if self.op == "exists":
            return bool(subjects) is self.value
        if not subjects:
            return False
        value = self.value
        if self.op == "regex":
            assert isinstance(value, str)
            pattern = _compiled(value)
            return any(pattern.search(s[:_REGEX_SUBJECT_LIMIT]) is not None for s in subjects)
        if self.op == "in":
            assert isinstance(value, list)
            wanted = {v.strip().casefold() for v in value}
            return any(s.casefold() in wanted for s in subjects)
        assert isinstance(value, str)
        needle = value.strip().casefold()
        folded = [s.casefold() for s in subjects]
        if self.op == "equals":
            return needle in folded
        if self.op == "contains":
            return any(needle in s for s in folded)
        return any(s.startswith(needle) for s in folded)  # starts_with


def _field_values(touch: MarketingTouch, name: RuleField) -> tuple[str, ...]:
    if name == "click_id":
        return tuple(touch.click_ids)
    value = getattr(touch, name)
    return (value,) if value else ()


class ChannelRule(BaseModel):
    """An account-defined rule, evaluated before the default rules: all conditions ANDed.

    Example: ``{"channel": "affiliate", "conditions": [{"field": "utm_source", "op": "in",
    "value": ["partnerstack", "tapfiliate"]}]}``. ``channel`` must be one of
    :data:`CHANNELS`; an unknown value is a validation error located at ``channel``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    conditions: Annotated[list[RuleCondition], Field(min_length=1, max_length=20)]
    name: Annotated[str | None, Field(max_length=200)] = None

    def matches(self, touch: MarketingTouch) -> bool:
        """Whether every condition holds for ``touch``."""
        return all(condition.matches(touch) for condition in self.conditions)


# --------------------------------------------------------------------------------------
# Default rules
# --------------------------------------------------------------------------------------

_PAID_MEDIUM_RE = re.compile(r"^(?:.*cp.*|ppc|sem|retargeting|remarketing|paid.*|.*_paid|ads?|.*_ads?|pla|pmax)$")
_SHOP_CAMPAIGN_RE = re.compile(r"(?:^|[^a-df-z])shop|shopping")
_MEDIUM_SEPARATORS = re.compile(r"[\s.\-]+")

_DISPLAY_MEDIUMS = frozenset(
    {"display", "banner", "banners", "expandable", "interstitial", "programmatic", "native", "rich_media", "gdn"}
)
_PAID_SHOPPING_MEDIUMS = frozenset(
    {"paid_shopping", "paidshopping", "shopping_ads", "shopping_ad", "pla", "product_listing_ads", "cpc_shopping"}
)
_PAID_SOCIAL_MEDIUMS = frozenset(
    {"paid_social", "paidsocial", "social_paid", "socialpaid", "social_ads", "social_ad", "paid_social_media"}
)
_PAID_SEARCH_MEDIUMS = frozenset({"paid_search", "paidsearch", "search_paid", "search_ads", "search_ad", "sem"})
_PAID_VIDEO_MEDIUMS = frozenset({"cpv", "paid_video", "paidvideo"})
_DISPLAY_DEFAULT_MEDIUMS = frozenset({"cpm", "retargeting", "remarketing", "vcpm", "dcpm"})
_EMAIL_MEDIUMS = frozenset(
    {"email", "e_mail", "emails", "mail", "mailing", "newsletter", "newsletters", "email_marketing", "edm"}
)
_SMS_MEDIUMS = frozenset({"sms", "text", "texts", "mms", "text_message", "txt", "sms_marketing"})
_AFFILIATE_MEDIUMS = frozenset(
    {
        "affiliate",
        "affiliates",
        "aff",
        "partner",
        "partners",
        "partnership",
        "influencer",
        "influencers",
        "creator",
        "creators",
        "ambassador",
        "ambassadors",
        "affiliate_marketing",
        "influencer_marketing",
    }
)
_SOCIAL_MEDIUMS = frozenset(
    {
        "social",
        "social_network",
        "socialnetwork",
        "social_media",
        "socialmedia",
        "sm",
        "organic_social",
        "social_organic",
        "social_post",
    }
)
_ORGANIC_SHOPPING_MEDIUMS = frozenset({"shopping", "organic_shopping", "free_listing", "free_listings"})
_ORGANIC_MEDIUMS = frozenset({"organic", "organic_search", "seo"})
_REFERRAL_MEDIUMS = frozenset({"referral", "referrer", "referal", "link"})

_SEARCH_CLICK_IDS = ("gclid", "gbraid", "wbraid", "msclkid")
_SOCIAL_CLICK_IDS = ("ttclid", "li_fat_id", "twclid", "sccid", "rdt_cid", "epik")
_CLICK_OVERRIDES = frozenset({Channel.PAID_SHOPPING, Channel.PAID_VIDEO, Channel.DISPLAY})
_PAID_BY_CATEGORY: Mapping[str, Channel] = {
    "search": Channel.PAID_SEARCH,
    "social": Channel.PAID_SOCIAL,
    "video": Channel.PAID_VIDEO,
    "display": Channel.DISPLAY,
    "affiliate": Channel.AFFILIATE,
    "email": Channel.EMAIL,
    "sms": Channel.SMS,
}
_ORGANIC_BY_CATEGORY: Mapping[str, Channel] = {
    "social": Channel.ORGANIC_SOCIAL,
    "video": Channel.VIDEO,
    "shopping": Channel.ORGANIC_SHOPPING,
}


@lru_cache(maxsize=2_048)
def _normalise_medium(medium: str) -> str:
    return _MEDIUM_SEPARATORS.sub("_", medium.strip().lower()).strip("_")


def _click_family(click_ids: Mapping[str, str]) -> Channel | None:
    if not click_ids:
        return None
    if any(name in click_ids for name in _SEARCH_CLICK_IDS):
        return Channel.PAID_SEARCH
    if any(name in click_ids for name in _SOCIAL_CLICK_IDS):
        return Channel.PAID_SOCIAL
    if "dclid" in click_ids:
        return Channel.DISPLAY
    return None


def _paid_channel(medium: str, campaign: str, source_category: str | None, click: Channel | None) -> Channel:
    """Rule 1 a-g: which paid channel a paid touch belongs to."""
    stated: Channel | None = None
    if _SHOP_CAMPAIGN_RE.search(campaign) or source_category == "shopping" or medium in _PAID_SHOPPING_MEDIUMS:
        stated = Channel.PAID_SHOPPING
    elif medium in _DISPLAY_MEDIUMS:
        stated = Channel.DISPLAY
    elif medium in _PAID_VIDEO_MEDIUMS or "video" in medium:
        stated = Channel.PAID_VIDEO
    elif medium in _PAID_SOCIAL_MEDIUMS:
        stated = Channel.PAID_SOCIAL
    elif medium in _PAID_SEARCH_MEDIUMS:
        stated = Channel.PAID_SEARCH
    elif source_category is not None:
        stated = _PAID_BY_CATEGORY.get(source_category)
    if click is not None:
        return stated if stated in _CLICK_OVERRIDES else click
    if stated is not None:
        return stated
    if medium == "ppc":
        return Channel.PAID_SEARCH
    if medium in _DISPLAY_DEFAULT_MEDIUMS:
        return Channel.DISPLAY
    return Channel.OTHER


def _explicit_medium_channel(medium: str, source_category: str | None) -> Channel | None:
    """Rule 2: non-paid mediums that name their channel."""
    if medium in _EMAIL_MEDIUMS:
        return Channel.EMAIL
    if medium in _SMS_MEDIUMS:
        return Channel.SMS
    if medium in _AFFILIATE_MEDIUMS:
        return Channel.AFFILIATE
    if medium in _SOCIAL_MEDIUMS:
        return Channel.ORGANIC_SOCIAL
    if medium in _ORGANIC_SHOPPING_MEDIUMS:
        return Channel.ORGANIC_SHOPPING
    if "video" in medium:
        return Channel.VIDEO
    if medium in _ORGANIC_MEDIUMS:
        return _ORGANIC_BY_CATEGORY.get(source_category or "", Channel.ORGANIC_SEARCH)
    if medium in _REFERRAL_MEDIUMS:
        return Channel.REFERRAL
    return None


def _default_channel(touch: MarketingTouch, internal: frozenset[str]) -> Channel:
    referrer_host = touch.referrer_host
    if referrer_host is None:
        # A touch rebuilt by hand (e.g. from a stored session) may carry only the raw referrer.
        referrer_host = normalise_host(touch.referrer) if touch.referrer else None
    elif referrer_host.startswith("www.") or referrer_host != referrer_host.lower() or ":" in referrer_host:
        referrer_host = normalise_host(referrer_host)
    if referrer_host is not None and internal and _host_in(referrer_host, internal):
        referrer_host = None  # the account's own site: never a traffic source
    referrer = lookup_referrer(referrer_host) if referrer_host is not None else None
    source = lookup_source(touch.utm_source) if touch.utm_source is not None else None
    known = source if source is not None else referrer
    source_category = known.category if known is not None else None
    medium = _normalise_medium(touch.utm_medium) if touch.utm_medium is not None else ""
    campaign = touch.utm_campaign.casefold() if touch.utm_campaign is not None else ""
    click = _click_family(touch.click_ids)

    # 1. paid
    if click is not None or (medium and (_PAID_MEDIUM_RE.match(medium) or medium in _DISPLAY_MEDIUMS)):
        return _paid_channel(medium, campaign, source_category, click)
    # 2. explicit non-paid medium
    if medium and (explicit := _explicit_medium_channel(medium, source_category)) is not None:
        return explicit
    # 3. our tracking link
    if touch.ref_code is not None:
        return Channel.AFFILIATE
    has_utm = touch.has_utm
    # 4. UTM-tagged, by source category (utm_source, else the referrer)
    if has_utm and source_category is not None:
        return _CATEGORY_CHANNEL.get(source_category, Channel.OTHER)
    # 5. fbclid without paid evidence
    if "fbclid" in touch.click_ids and (
        referrer_host is None or (referrer is not None and referrer.category == "social")
    ):
        return Channel.ORGANIC_SOCIAL
    # 6. tagged but unrecognised
    if has_utm:
        return Channel.OTHER
    # 7. referrer only
    if referrer_host is None:
        return Channel.DIRECT
    if referrer is not None:
        return _CATEGORY_CHANNEL.get(referrer.category, Channel.REFERRAL)
    return Channel.REFERRAL


def classify(
    touch: MarketingTouch,
    *,
    internal_hosts: Collection[str] = (),
    custom_rules: Sequence[ChannelRule] = (),
) -> str:
    """The channel of ``touch``: the account's ``custom_rules`` first (first match wins),
    then the default rule table described in the module docstring. Returns a
    :data:`CHANNELS` value. Pure and fast; never raises for any touch.
    """
    for rule in custom_rules:
        if rule.matches(touch):
            return rule.channel.value
    return _default_channel(touch, _as_internal_set(internal_hosts)).value


def referrer_table_stats() -> dict[str, int]:
    """Entry counts of the loaded data table (for diagnostics and tests)."""
    table = _table()
    counts: dict[str, int] = {}
    for match in table.hosts.values():
        counts[match.category] = counts.get(match.category, 0) + 1
    counts["hosts"] = len(table.hosts)
    counts["sources"] = len(table.sources)
    return counts
