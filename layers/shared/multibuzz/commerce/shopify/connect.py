"""Connecting a store, both ways shops use.

1. OAuth install: ``install_url`` (the authorize redirect with a signed, expiring state bound to the
   account and the shop) → Shopify → ``verify_callback`` (Shopify's query HMAC, the state, the shop domain
   pattern) → ``exchange_code`` (offline token) → ``complete``.
2. A custom-app Admin API token pasted by an owner → ``complete`` (with that app's API secret, if given,
   to verify its webhooks).
``complete`` checks the token against the shop, refuses a store whose currency is not the account's,
stores the token encrypted, records the shop, registers the webhook subscriptions through the Admin
GraphQL API and queues the first 7-day fill.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.commerce import integrations as svc
from multibuzz.commerce.jobs import request_sync
from multibuzz.commerce.shopify.client import ShopifyError, exchange_code, valid_shop_domain
from multibuzz.commerce.shopify.sync import FILL, client_for, tools_of
from multibuzz.commerce.shopify.webhooks import WEBHOOK_SECRET, directory
from multibuzz.db.models import Account
from multibuzz.db.models.commerce import Integration, Shop
from multibuzz.errors import AuthenticationError, InvalidInputError

STATE_TTL_SECONDS = 600
WEBHOOK_TOPICS = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_CANCELLED": "orders/cancelled",
    "REFUNDS_CREATE": "refunds/create",
    "APP_UNINSTALLED": "app/uninstalled",
}


def normalize_shop(shop: str, field: str = "shop") -> str:
    value = (shop or "").strip().lower()
    if not valid_shop_domain(value):
        raise InvalidInputError("shop must be a myshopify.com domain, like example.myshopify.com", field=field)
    return value


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _state_key(container: Container) -> bytes:
    return ("shopify-oauth-state:" + container.settings.jwt_secret.get_secret_value()).encode()


def make_state(container: Container, account_id: str, shop: str) -> str:
    body = json.dumps(
        {"a": account_id, "s": shop, "e": int(time.time()) + STATE_TTL_SECONDS, "n": secrets.token_hex(8)},
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(_state_key(container), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def read_state(container: Container, state: str, shop: str) -> str:
    """The account the install was started for; refuses a forged, expired or other-shop state."""
    try:
        body_text, mac_text = state.split(".", 1)
        body, mac = _unb64(body_text), _unb64(mac_text)
        expected = hmac.new(_state_key(container), body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise ValueError("signature")
        data = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise AuthenticationError("the OAuth state is not one we issued", field="state") from exc
    if int(data.get("e", 0)) < time.time():
        raise AuthenticationError("the OAuth state has expired; start the install again", field="state")
    if data.get("s") != shop:
        raise AuthenticationError("the OAuth state was issued for another shop", field="state")
    return str(data["a"])


def install_url(container: Container, account_id: str, shop: str) -> str:
    settings = container.settings
    if not settings.shopify_api_key or not settings.shopify_api_secret.get_secret_value():
        raise InvalidInputError("Shopify OAuth is not configured (MULTIBUZZ_SHOPIFY_API_KEY/SECRET)", field="shop")
    shop = normalize_shop(shop)
    from urllib.parse import urlencode

    from multibuzz.commerce.shopify.client import base_url

    query = urlencode(
        {
            "client_id": settings.shopify_api_key,
            "scope": settings.shopify_scopes,
            "redirect_uri": f"{settings.base_url}/api/v1/integrations/shopify/callback",
            "state": make_state(container, account_id, shop),
        }
    )
    return f"{base_url(settings.shopify_base_url, shop)}/admin/oauth/authorize?{query}"


def query_hmac_ok(params: dict[str, str], secret: str) -> bool:
    """Shopify's OAuth callback HMAC: hex HMAC-SHA256 of the other parameters, sorted, ``k=v`` joined by &."""
    given = params.get("hmac", "")
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    expected = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return bool(secret) and hmac.compare_digest(expected.encode(), given.encode())


def verify_callback(container: Container, params: dict[str, str]) -> tuple[str, str]:
    """(account_id, shop) of a genuine callback; AuthenticationError/InvalidInputError otherwise."""
    if not query_hmac_ok(params, container.settings.shopify_api_secret.get_secret_value()):
        raise AuthenticationError("the callback's hmac does not match; not from Shopify", field="hmac")
    shop = normalize_shop(params.get("shop", ""))
    account_id = read_state(container, params.get("state", ""), shop)
    if not params.get("code"):
        raise InvalidInputError("code is required", field="code")
    return account_id, shop


def oauth_complete(
    container: Container, session: Session, params: dict[str, str], http: httpx.Client | None = None
) -> Integration:
    account_id, shop = verify_callback(container, params)
    settings = container.settings
    with _Http(http) as client:
        try:
            token, scopes = exchange_code(
                client,
                settings.shopify_base_url,
                shop,
                settings.shopify_api_key,
                settings.shopify_api_secret.get_secret_value(),
                params["code"],
            )
        except ShopifyError as exc:
            raise AuthenticationError(str(exc), field="code") from exc
        return complete(container, session, account_id, shop, token, method="oauth", scopes=scopes, http=client)


class _Http:
    """Use the given client, or a short-lived one."""

    def __init__(self, client: httpx.Client | None) -> None:
        self._given = client
        self._own: httpx.Client | None = None

    def __enter__(self) -> httpx.Client:
        if self._given is not None:
            return self._given
        self._own = httpx.Client(timeout=30)
        return self._own

    def __exit__(self, *exc: Any) -> None:
        if self._own is not None:
            self._own.close()


def complete(
    container: Container,
    session: Session,
    account_id: str,
    shop: str,
    token: str,
    *,
    method: str,
    scopes: str | None = None,
    webhook_secret: str | None = None,
    http: httpx.Client | None = None,
) -> Integration:
    """Check the token, store everything, subscribe the webhooks, queue the 7-day fill."""
    tools = tools_of(container)
    account_currency = session.scalar(select(Account.currency).where(Account.id == account_id)) or "USD"
    probe = Integration(id="probe", account_id=account_id, type="shopify", external_id=shop)
    with _Http(http) as client_http:
        client = client_for(container, probe, token, client_http)
        try:
            info = client.shop_info()
        except ShopifyError as exc:
            raise InvalidInputError(f"the store refused the token: {exc}", field="access_token") from exc
        currency = str(info.get("currencyCode") or "").upper()
        if currency and currency != account_currency:
            raise InvalidInputError(
                f"the store's currency is {currency} but the account reports in {account_currency}; "
                "amounts are not converted, so the store cannot be connected to this account",
                field="shop",
            )
        integration = svc.connect(
            session,
            tools,
            account_id=account_id,
            type="shopify",
            external_id=shop,
            display_name=str(info.get("name") or shop),
            connect_method=method,
            scopes=scopes,
        )
        svc.store_secret(session, tools, integration, token)
        if webhook_secret:
            svc.store_secret(session, tools, integration, webhook_secret, WEBHOOK_SECRET)
        now = container.clock.now()
        row = session.scalars(select(Shop).where(Shop.account_id == account_id, Shop.shop_domain == shop)).one_or_none()
        if row is None:
            row = Shop(id=container.ids.new("shp"), account_id=account_id, shop_domain=shop, created_at=now)
            session.add(row)
        row.integration_id = integration.id
        row.name = str(info.get("name") or shop)[:255]
        row.currency = currency or None
        row.timezone = str(info.get("ianaTimezone") or "")[:64] or None
        row.updated_at = now
        session.commit()
        subscribed = []
        try:
            for enum, topic in WEBHOOK_TOPICS.items():
                client.subscribe_webhook(enum, f"{container.settings.base_url}/webhooks/shopify/{topic}")
                subscribed.append(topic)
        except ShopifyError as exc:
            svc.mark_error(session, tools, integration, f"webhook subscription failed: {exc}")
        integration.config = {**(integration.config or {}), "webhooks": subscribed}
        session.commit()
    directory.forget(shop)
    request_sync(container, integration, FILL, "connect")
    return integration
