"""The pages in the menu, by audience. Adding a page = one template + one route module + one entry here.

A new page comes as ``pages/<name>.py`` (a router using ``Advertiser``/``PlatformAdmin`` and ``render``), a
template extending ``base.html``, one ``NavItem`` below and its route in ``pages/__init__.ROUTERS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from multibuzz.services.context import Actor


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    audience: str  # advertiser | influencer | admin


NAV: tuple[NavItem, ...] = (
    NavItem("Home", "/app/home", "advertiser"),
    NavItem("Shopify", "/app/shopify", "advertiser"),
    NavItem("Meta", "/app/meta", "advertiser"),
    NavItem("Attribution", "/app/attribution", "advertiser"),
    NavItem("Conversions", "/app/conversions", "advertiser"),
    NavItem("Events", "/app/events", "advertiser"),
    NavItem("Influencers", "/app/programme", "advertiser"),
    NavItem("Exports", "/app/exports", "advertiser"),
    NavItem("Settings", "/app/settings", "advertiser"),
    NavItem("My dashboard", "/app/me", "influencer"),
    NavItem("Admin", "/app/admin", "admin"),
)


def audiences(actor: Actor | None) -> set[str]:
    if actor is None:
        return set()
    found: set[str] = set()
    if actor.role == "influencer" and not actor.is_platform_admin:
        found.add("influencer")
    elif actor.account_id is not None:
        found.add("advertiser")
    if actor.is_platform_admin:
        found.add("admin")
    return found


def menu(actor: Actor | None) -> list[NavItem]:
    allowed = audiences(actor)
    return [item for item in NAV if item.audience in allowed]


def landing(actor: Actor) -> str:
    """Where a fresh login lands."""
    return menu(actor)[0].path if menu(actor) else "/app/admin"
