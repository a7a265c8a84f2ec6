"""A small Shopify Admin client: OAuth token exchange and the Admin GraphQL API (httpx).

Cost-based throttling is data read from every answer (``extensions.cost.throttleStatus``): before a
query the client waits until the bucket holds what the last query of that shape cost; a ``THROTTLED``
error waits for the bucket to refill and retries. Sleeping is injectable (tests count the waits).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from multibuzz.http.json_body import parse_json

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
MAX_THROTTLE_RETRIES = 8


class JsonLine(dict[str, Any]):
    """A JSON object parsed from one line of a bulk result that keeps the line: written as a JSON column, the
    line goes in as it came (the same document) instead of being encoded again."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__(parse_json(text))  # json.loads(text), by pydantic-core's parser when it can
        self.text = text


class ShopifyError(RuntimeError):
    """Shopify refused or failed; ``message`` is written for a person (shown in sync-status)."""


class ShopifyAuthError(ShopifyError):
    """The token is no longer valid (uninstalled, revoked)."""


def valid_shop_domain(shop: str) -> bool:
    return bool(SHOP_DOMAIN.fullmatch(shop or ""))


def base_url(template: str, shop: str) -> str:
    return template.replace("{shop}", shop).rstrip("/")


@dataclass
class Throttle:
    maximum: float = 1000.0
    available: float = 1000.0
    restore_rate: float = 50.0
    last_cost: float = 0.0
    waits: list[float] = field(default_factory=list)

    def read(self, extensions: dict[str, Any] | None) -> None:
        cost = (extensions or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if status:
            self.maximum = float(status.get("maximumAvailable", self.maximum))
            self.available = float(status.get("currentlyAvailable", self.available))
            self.restore_rate = float(status.get("restoreRate", self.restore_rate)) or 1.0
        if cost.get("requestedQueryCost") is not None:
            self.last_cost = float(cost["requestedQueryCost"])

    def wait_needed(self, cost: float | None = None) -> float:
        need = min(cost if cost is not None else self.last_cost, self.maximum)
        if self.available >= need:
            return 0.0
        return (need - self.available) / self.restore_rate


class ShopifyClient:
    def __init__(
        self,
        shop: str,
        token: str,
        *,
        base_url_template: str,
        api_version: str,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.shop = shop
        self._token = token
        self.base = base_url(base_url_template, shop)
        self.api_version = api_version
        self._http = http or httpx.Client(timeout=timeout)
        self._sleep = sleep
        self.throttle = Throttle()

    # -- GraphQL --------------------------------------------------------------------------------
    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base}/admin/api/{self.api_version}/graphql.json"
        for _attempt in range(MAX_THROTTLE_RETRIES + 1):
            wait = self.throttle.wait_needed()
            if wait > 0:
                self.throttle.waits.append(wait)
                self._sleep(wait)
                self.throttle.available = self.throttle.last_cost  # refilled by now
            try:
                response = self._http.post(
                    url,
                    json={"query": query, "variables": variables or {}},
                    headers={"X-Shopify-Access-Token": self._token},
                )
            except httpx.HTTPError as exc:
                raise ShopifyError(f"Shopify could not be reached ({type(exc).__name__})") from exc
            if response.status_code in (401, 403):
                raise ShopifyAuthError(
                    f"Shopify refused the access token (HTTP {response.status_code}); reconnect the store"
                )
            if response.status_code == 429:
                self.throttle.available = 0
                continue
            if response.status_code >= 400:
                raise ShopifyError(f"Shopify answered HTTP {response.status_code} to a GraphQL query")
            body = response.json()
            self.throttle.read(body.get("extensions"))
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                if self.throttle.available >= self.throttle.last_cost:
                    self.throttle.available = 0  # the answer's numbers are stale: wait a full cost
                continue
            if errors:
                raise ShopifyError("Shopify GraphQL error: " + "; ".join(str(e.get("message")) for e in errors)[:500])
            data = body.get("data")
            if not isinstance(data, dict):
                raise ShopifyError("Shopify answered without data")
            return data
        raise ShopifyError(f"Shopify kept throttling after {MAX_THROTTLE_RETRIES} retries")

    def shop_info(self) -> dict[str, Any]:
        data = self.graphql("{ shop { name currencyCode ianaTimezone myshopifyDomain } }")
        return dict(data["shop"])

    def orders_page(
        self, search: str, after: str | None, first: int, fields: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = (
            "query Orders($first: Int!, $after: String, $query: String) {"
            " orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {"
            f" edges {{ cursor node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        )
        data = self.graphql(query, {"first": first, "after": after, "query": search})
        orders = data["orders"]
        nodes = [edge["node"] for edge in orders["edges"]]
        info = orders["pageInfo"]
        return nodes, (info["endCursor"] if info.get("hasNextPage") else None)

    def orders_count(self, search: str) -> int:
        data = self.graphql("query Count($query: String) { ordersCount(query: $query) { count } }", {"query": search})
        return int(data["ordersCount"]["count"])

    def run_bulk_orders(self, search: str, fields: str) -> str:
        inner = f"{{ orders(query: {json.dumps(search)}) {{ edges {{ node {{ {fields} }} }} }} }}"
        mutation = (
            "mutation Bulk($query: String!) { bulkOperationRunQuery(query: $query) {"
            " bulkOperation { id status } userErrors { field message } } }"
        )
        data = self.graphql(mutation, {"query": inner})
        result = data["bulkOperationRunQuery"]
        if result.get("userErrors"):
            raise ShopifyError("bulk operation refused: " + "; ".join(e["message"] for e in result["userErrors"]))
        return str(result["bulkOperation"]["id"])

    def poll_bulk(self, operation_id: str, *, interval: float = 1.0, max_polls: int = 3600) -> str | None:
        """Wait for the bulk operation; the JSONL URL (None: no rows)."""
        for _ in range(max_polls):
            data = self.graphql(
                "query Poll($id: ID!) { node(id: $id) {"
                " ... on BulkOperation { id status errorCode objectCount url } } }",
                {"id": operation_id},
            )
            node = data.get("node") or {}
            status = node.get("status")
            if status == "COMPLETED":
                return node.get("url")
            if status in ("FAILED", "CANCELED", "EXPIRED"):
                raise ShopifyError(f"bulk operation {status.lower()}: {node.get('errorCode') or 'no reason given'}")
            self._sleep(interval)
        raise ShopifyError("bulk operation did not finish in time")

    def stream_jsonl(self, url: str) -> Iterator[dict[str, Any]]:
        with self._http.stream("GET", url) as response:
            if response.status_code >= 400:
                raise ShopifyError(f"bulk result download failed (HTTP {response.status_code})")
            for line in response.iter_lines():
                if line.strip():
                    yield JsonLine(line)  # keeps the line: the raw payload is stored without encoding it again

    def subscribe_webhook(self, topic: str, callback_url: str) -> str | None:
        mutation = (
            "mutation Sub($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {"
            " webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {"
            " webhookSubscription { id topic } userErrors { field message } } }"
        )
        data = self.graphql(mutation, {"topic": topic, "sub": {"callbackUrl": callback_url, "format": "JSON"}})
        result = data["webhookSubscriptionCreate"]
        errors = result.get("userErrors") or []
        if errors and not any("already been taken" in str(e.get("message")) for e in errors):
            raise ShopifyError("webhook subscription refused: " + "; ".join(str(e.get("message")) for e in errors))
        sub = result.get("webhookSubscription") or {}
        return sub.get("id")


def exchange_code(
    http: httpx.Client, base_url_template: str, shop: str, api_key: str, api_secret: str, code: str
) -> tuple[str, str]:
    """OAuth: trade the authorization code for an offline access token → (token, granted scopes)."""
    try:
        response = http.post(
            f"{base_url(base_url_template, shop)}/admin/oauth/access_token",
            json={"client_id": api_key, "client_secret": api_secret, "code": code},
        )
    except httpx.HTTPError as exc:
        raise ShopifyError(f"Shopify could not be reached ({type(exc).__name__})") from exc
    if response.status_code != 200:
        raise ShopifyError(f"Shopify refused the authorization code (HTTP {response.status_code})")
    body = response.json()
    token = body.get("access_token")
    if not token:
        raise ShopifyError("Shopify answered without an access token")
    return str(token), str(body.get("scope") or "")
