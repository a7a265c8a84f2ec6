"""The ``click.record`` message the redirect puts on the clicks queue, written as JSON text directly.

It is the same JSON ``json.dumps`` would write for ``{"kind", "id", "account_id", "payload": {...}}``
(the consumer parses it with ``json.loads``), but built without a dict and a general-purpose encoder,
because it is most of what the redirect does per request:

- the fields that only depend on the link snapshot and on whether the campaign is live (ids, code,
  fallback flags, the Location when no query is forwarded) are rendered once per snapshot into a
  ``ClickTemplate``;
- per request, visitor-supplied text (user agent, referrer, method, IP as stored, city, country, the
  Location with forwarded UTMs) goes through the standard library's C string encoder
  (``json.encoder.encode_basestring_ascii``, what ``json.dumps`` uses), and values the redirect made
  itself (click id, ISO timestamp, hex digest) are known to need no escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from json.encoder import encode_basestring_ascii  # the C speedup when present

from multibuzz.domain import links as link_rules
from multibuzz.redirect.cache import LinkSnapshot

CLICK_KIND = "click.record"


def _text(value: str | None) -> str:
    return "null" if value is None else str(encode_basestring_ascii(value))


@dataclass(frozen=True, slots=True)
class ClickTemplate:
    snapshot: LinkSnapshot
    live: bool
    target: str  # destination, or the campaign's fallback outside its live window
    location: str  # target + ref_code: the Location when no query is forwarded
    head: str  # JSON text from "{" to the last constant payload field, with its trailing comma


def click_template(snapshot: LinkSnapshot, live: bool) -> ClickTemplate:
    used_fallback = not live and snapshot.fallback_url is not None
    target = snapshot.fallback_url if used_fallback and snapshot.fallback_url else snapshot.destination_url
    # Once per snapshot, not per click: rows stored before destinations were validated may hold an IRI
    # (日本茶, €, café, U+2028) that is not a valid Location header; stored URIs come back unchanged.
    target = link_rules.iri_to_uri(target)
    head = (
        f'{{"kind":"{CLICK_KIND}","account_id":{_text(snapshot.account_id)},"payload":{{'
        f'"link_id":{_text(snapshot.link_id)},"campaign_id":{_text(snapshot.campaign_id)},'
        f'"influencer_id":{_text(snapshot.influencer_id)},"code":{_text(snapshot.code)},'
        f'"used_fallback":{"true" if used_fallback else "false"},"outside_live_window":{"false" if live else "true"},'
    )
    return ClickTemplate(snapshot, live, target, link_rules.build_location(target, snapshot.code), head)


def click_message(
    template: ClickTemplate,
    *,
    click_id: str,
    occurred_at: str,
    method: str,
    user_agent: str | None,
    referrer: str | None,
    ip: str | None,
    visitor_hash: str,
    country: str | None,
    city: str | None,
    destination_url: str,
    prefetch: bool,
) -> str:
    """The message body. ``click_id``, ``occurred_at`` and ``visitor_hash`` are the redirect's own
    ASCII (an id, an ISO-8601 time, a hex digest); everything else is escaped."""
    q = encode_basestring_ascii  # inlined None checks: seven function calls fewer per click
    return (
        f'{template.head}"click_id":"{click_id}","occurred_at":"{occurred_at}","method":{q(method)},'
        f'"user_agent":{"null" if user_agent is None else q(user_agent)},'
        f'"referrer":{"null" if referrer is None else q(referrer)},"ip":{"null" if ip is None else q(ip)},'
        f'"visitor_hash":"{visitor_hash}","country":{"null" if country is None else q(country)},'
        f'"city":{"null" if city is None else q(city)},"destination_url":{q(destination_url)},'
        f'"prefetch":{"true" if prefetch else "false"}}},"id":"{click_id}"}}'
    )
