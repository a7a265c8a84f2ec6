"""A fake Shopify as a real HTTP server, following the documented Admin API closely enough for our client.

Per shop, under ``/{shop}`` (point ``MULTIBUZZ_SHOPIFY_BASE_URL`` at ``http://host:port/{shop}``):
- ``GET /admin/oauth/authorize`` → redirects to ``redirect_uri`` with ``code``, ``shop``, ``state``,
  ``timestamp`` and the query ``hmac`` (hex HMAC-SHA256 of the sorted query, app secret), as Shopify does;
- ``POST /admin/oauth/access_token`` → ``{"access_token", "scope"}`` for a valid code + secret;
- ``POST /admin/api/{version}/graphql.json`` (``X-Shopify-Access-Token``): ``shop``, ``orders`` (search
  ``updated_at:>=``/``created_at:>=``, ``sortKey: UPDATED_AT``, cursors), ``ordersCount``,
  ``bulkOperationRunQuery`` + ``node(id:)`` polling + a JSONL download, ``webhookSubscriptionCreate``;
  every answer carries ``extensions.cost.throttleStatus``; a drained bucket answers ``THROTTLED``.
- ``fire_webhook`` (and ``POST /_fake/{shop}/fire``) sends a signed webhook to a URL.
It is not a GraphQL engine: it recognises the operations our client sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

ORDER_COST_PER_NODE = 1
QUERY_BASE_COST = 2


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_query(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_body(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class FakeShop:
    domain: str
    name: str = "Fake Store"
    currency: str = "USD"
    timezone: str = "UTC"
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # REST-shaped orders by id
    tokens: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)  # code → scope
    webhooks: list[dict[str, str]] = field(default_factory=list)
    bulk: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk_polls_before_done: int = 1
    # Throttling: a leaky bucket as Shopify's (maximumAvailable, restoreRate); a test may drain it.
    maximum: float = 1000.0
    available: float = 1000.0
    restore_rate: float = 50.0
    throttle_next: int = 0  # answer THROTTLED this many times
    fail_after_queries: int | None = None  # HTTP 500 once this many order queries were answered
    order_queries: int = 0
    requests: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)  # the ``query`` of every orders request


class FakeShopify:
    def __init__(self, api_key: str = "fake-api-key", api_secret: str = "fake-api-secret") -> None:  # noqa: S107
        self.api_key = api_key
        self.api_secret = api_secret
        self.shops: dict[str, FakeShop] = {}
        self._lock = threading.Lock()
        self._next_id = 1000
        self.base_url = ""  # set once served
        self.app = Starlette(
            routes=[
                Route("/{shop}/admin/oauth/authorize", self._authorize, methods=["GET"]),
                Route("/{shop}/admin/oauth/access_token", self._access_token, methods=["POST"]),
                Route("/{shop}/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]),
                Route("/_bulk/{shop}/{op}.jsonl", self._bulk_download, methods=["GET"]),
                Route("/_fake/{shop}/fire", self._fire_endpoint, methods=["POST"]),
            ]
        )

    # -- state helpers --------------------------------------------------------------------------
    def shop(self, domain: str, **kwargs: Any) -> FakeShop:
        with self._lock:
            if domain not in self.shops:
                self.shops[domain] = FakeShop(domain, **kwargs)
            return self.shops[domain]

    def issue_token(self, domain: str) -> str:
        token = "shpat_" + secrets.token_hex(16)
        self.shop(domain).tokens.add(token)
        return token

    def add_order(
        self,
        domain: str,
        *,
        total: str = "100.00",
        discount: str = "0.00",
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
        financial_status: str = "paid",
        email: str | None = "buyer@example.com",
        customer_id: int | None = None,
        discount_codes: list[str] | None = None,
        note_attributes: dict[str, str] | None = None,
        landing_site: str | None = None,
        referring_site: str | None = None,
        order_id: int | None = None,
        currency: str | None = None,
    ) -> dict[str, Any]:
        shop = self.shop(domain)
        created = created_at or datetime.now(UTC)
        with self._lock:
            if order_id is None:
                self._next_id += 1
                order_id = self._next_id
        subtotal = Decimal(total) - Decimal(discount)
        order = {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{order_id}",
            "email": email,
            "created_at": iso(created),
            "updated_at": iso(updated_at or created),
            "processed_at": iso(created),
            "cancelled_at": None,
            "currency": currency or shop.currency,
            "financial_status": financial_status,
            "fulfillment_status": None,
            "total_line_items_price": total,
            "total_discounts": discount,
            "subtotal_price": str(subtotal),
            "total_price": str(subtotal),
            "total_tax": "0.00",
            "total_shipping_price_set": {"shop_money": {"amount": "0.00", "currency_code": shop.currency}},
            "discount_codes": [{"code": c, "amount": discount, "type": "fixed_amount"} for c in discount_codes or []],
            "note_attributes": [{"name": k, "value": v} for k, v in (note_attributes or {}).items()],
            "landing_site": landing_site,
            "referring_site": referring_site,
            "source_name": "web",
            "test": False,
            "customer": {"id": customer_id, "email": email} if customer_id else None,
            "refunds": [],
        }
        shop.orders[str(order_id)] = order
        return order

    def update_order(self, domain: str, order_id: str | int, updated_at: datetime, **changes: Any) -> dict[str, Any]:
        order = self.shop(domain).orders[str(order_id)]
        order.update(changes)
        order["updated_at"] = iso(updated_at)
        return order

    def refund(self, domain: str, order_id: str | int, amount: str, at: datetime) -> dict[str, Any]:
        order = self.shop(domain).orders[str(order_id)]
        with self._lock:
            self._next_id += 1
            refund_id = self._next_id
        refund = {
            "id": refund_id,
            "order_id": order["id"],
            "created_at": iso(at),
            "transactions": [{"id": refund_id, "kind": "refund", "status": "success", "amount": amount}],
        }
        order["refunds"].append(refund)
        refunded = sum(Decimal(t["amount"]) for r in order["refunds"] for t in r["transactions"])
        paid = Decimal(order["subtotal_price"])
        order["financial_status"] = "refunded" if refunded >= paid else "partially_refunded"
        order["updated_at"] = iso(at)
        return refund

    # -- webhooks out ---------------------------------------------------------------------------
    def webhook_request(
        self,
        domain: str,
        topic: str,
        payload: dict[str, Any],
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Api-Version": "2025-01",
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": iso(datetime.now(UTC)),
            "X-Shopify-Hmac-Sha256": sign_body(body, secret or self.api_secret),
        }
        return body, headers

    def fire_webhook(
        self,
        url: str,
        domain: str,
        topic: str,
        payload: dict[str, Any],
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        body, headers = self.webhook_request(domain, topic, payload, webhook_id=webhook_id, secret=secret)
        return httpx.post(f"{url.rstrip('/')}/webhooks/shopify/{topic}", content=body, headers=headers, timeout=10)

    async def _fire_endpoint(self, request: Request) -> Response:
        spec = await request.json()
        shop = request.path_params["shop"]
        order = self.shop(shop).orders.get(str(spec.get("order_id")))
        payload = spec.get("payload") or order or {}
        response = self.fire_webhook(spec["target"], shop, spec.get("topic", "orders/updated"), payload)
        return JSONResponse({"status": response.status_code})

    # -- OAuth ----------------------------------------------------------------------------------
    async def _authorize(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        params = request.query_params
        if params.get("client_id") != self.api_key:
            return PlainTextResponse("unknown client_id", status_code=400)
        code = secrets.token_hex(12)
        self.shop(shop).codes[code] = params.get("scope", "")
        back = {"code": code, "shop": shop, "state": params.get("state", ""), "timestamp": str(int(time.time()))}
        back["hmac"] = sign_query(back, self.api_secret)
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", status_code=302)

    async def _access_token(self, request: Request) -> Response:
        shop = self.shop(request.path_params["shop"])
        body = await request.json()
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.api_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        scope = shop.codes.pop(str(body.get("code")), None)
        if scope is None:
            return JSONResponse({"error": "invalid_request", "error_description": "code used or unknown"}, 400)
        token = "shpat_" + secrets.token_hex(16)
        shop.tokens.add(token)
        return JSONResponse({"access_token": token, "scope": scope})

    # -- GraphQL --------------------------------------------------------------------------------
    def _cost(self, shop: FakeShop, requested: float) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": shop.maximum,
                "currentlyAvailable": shop.available,
                "restoreRate": shop.restore_rate,
            },
        }

    async def _graphql(self, request: Request) -> Response:
        shop = self.shops.get(request.path_params["shop"])
        if shop is None or request.headers.get("x-shopify-access-token") not in shop.tokens:
            return JSONResponse(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401
            )
        body = await request.json()
        query, variables = str(body.get("query", "")), dict(body.get("variables") or {})
        shop.requests.append(query)
        requested = float(QUERY_BASE_COST + (int(variables.get("first") or 0) * ORDER_COST_PER_NODE))
        if shop.throttle_next > 0:
            shop.throttle_next -= 1
            shop.available = 0.0
            errors = [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }
            ]
            return JSONResponse({"errors": errors, "extensions": {"cost": self._cost(shop, requested)}})
        shop.available = shop.maximum  # the client waited as told; keep the numbers simple
        data = self._answer(shop, query, variables, request)
        if isinstance(data, Response):
            return data
        return JSONResponse({"data": data, "extensions": {"cost": self._cost(shop, requested)}})

    def _answer(
        self, shop: FakeShop, query: str, variables: dict[str, Any], request: Request
    ) -> dict[str, Any] | Response:
        if "webhookSubscriptionCreate" in query:
            topic = str(variables.get("topic"))
            callback = str((variables.get("sub") or {}).get("callbackUrl"))
            if any(w["topic"] == topic and w["callbackUrl"] == callback for w in shop.webhooks):
                return {
                    "webhookSubscriptionCreate": {
                        "webhookSubscription": None,
                        "userErrors": [
                            {"field": ["callbackUrl"], "message": "Address for this topic has already been taken"}
                        ],
                    }
                }
            sub = {
                "id": f"gid://shopify/WebhookSubscription/{len(shop.webhooks) + 1}",
                "topic": topic,
                "callbackUrl": callback,
            }
            shop.webhooks.append(sub)
            return {
                "webhookSubscriptionCreate": {
                    "webhookSubscription": {"id": sub["id"], "topic": topic},
                    "userErrors": [],
                }
            }
        if "bulkOperationRunQuery" in query:
            inner = str(variables.get("query", ""))
            match = re.search(r'query:\s*"((?:[^"\\]|\\.)*)"', inner)
            search = json.loads(f'"{match.group(1)}"') if match else ""
            op_id = f"gid://shopify/BulkOperation/{len(shop.bulk) + 1}"
            shop.bulk[op_id] = {"search": search, "polls": 0}
            return {"bulkOperationRunQuery": {"bulkOperation": {"id": op_id, "status": "CREATED"}, "userErrors": []}}
        if "BulkOperation" in query and "node(" in query:
            op = shop.bulk.get(str(variables.get("id")))
            if op is None:
                return {"node": None}
            op["polls"] += 1
            if op["polls"] <= shop.bulk_polls_before_done:
                return {
                    "node": {
                        "id": variables["id"],
                        "status": "RUNNING",
                        "errorCode": None,
                        "objectCount": "0",
                        "url": None,
                    }
                }
            number = str(variables["id"]).rsplit("/", 1)[-1]
            count = len(self._search(shop, op["search"]))
            url = (
                f"{self.base_url or str(request.base_url).rstrip('/')}/_bulk/{shop.domain}/{number}.jsonl"
                if count
                else None
            )
            return {
                "node": {
                    "id": variables["id"],
                    "status": "COMPLETED",
                    "errorCode": None,
                    "objectCount": str(count),
                    "url": url,
                }
            }
        if "ordersCount" in query:
            return {
                "ordersCount": {
                    "count": len(self._search(shop, str(variables.get("query") or ""))),
                    "precision": "EXACT",
                }
            }
        if "orders(" in query:
            shop.order_queries += 1
            shop.searches.append(str(variables.get("query") or ""))
            if shop.fail_after_queries is not None and shop.order_queries > shop.fail_after_queries:
                return JSONResponse({"errors": "Internal error"}, status_code=500)
            return {"orders": self._orders_page(shop, variables)}
        if "shop" in query:
            return {
                "shop": {
                    "name": shop.name,
                    "currencyCode": shop.currency,
                    "ianaTimezone": shop.timezone,
                    "myshopifyDomain": shop.domain,
                }
            }
        return JSONResponse({"errors": [{"message": "fake Shopify does not know this query"}]}, status_code=200)

    def _search(self, shop: FakeShop, search: str) -> list[dict[str, Any]]:
        orders = list(shop.orders.values())
        for field_name, op, value in re.findall(r"(updated_at|created_at):(>=|<=|>|<)'?([^' ]+)'?", search):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))

            def keep(o: dict[str, Any], f: str = field_name, p: str = op, m: datetime = moment) -> bool:
                t = datetime.fromisoformat(o[f].replace("Z", "+00:00"))
                return {">=": t >= m, "<=": t <= m, ">": t > m, "<": t < m}[p]

            orders = [o for o in orders if keep(o)]
        return sorted(orders, key=lambda o: (o["updated_at"], int(o["id"])))

    def _orders_page(self, shop: FakeShop, variables: dict[str, Any]) -> dict[str, Any]:
        found = self._search(shop, str(variables.get("query") or ""))
        start = int(base64.b64decode(variables["after"]).decode()) if variables.get("after") else 0
        first = min(int(variables.get("first") or 50), 250)
        page = found[start : start + first]
        edges = [
            {"cursor": base64.b64encode(str(start + i + 1).encode()).decode(), "node": to_graphql(o)}
            for i, o in enumerate(page)
        ]
        more = start + first < len(found)
        end = edges[-1]["cursor"] if edges else None
        return {"edges": edges, "pageInfo": {"hasNextPage": more, "endCursor": end}}

    async def _bulk_download(self, request: Request) -> Response:
        shop = self.shops[request.path_params["shop"]]
        op = shop.bulk[f"gid://shopify/BulkOperation/{request.path_params['op']}"]
        orders = self._search(shop, op["search"])

        def lines() -> Iterator[bytes]:
            for order in orders:
                yield (json.dumps(to_graphql(order)) + "\n").encode()

        return StreamingResponse(lines(), media_type="application/jsonl")


def _money(amount: Any, currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": str(amount), "currencyCode": currency}}


def to_graphql(order: dict[str, Any]) -> dict[str, Any]:
    """A REST-shaped fake order as an Admin GraphQL ``Order`` node with the fields our client selects."""
    currency = order["currency"]
    refunded = sum(Decimal(t["amount"]) for r in order.get("refunds") or [] for t in r["transactions"])
    customer = order.get("customer") or None
    visit = {"landingPage": order.get("landing_site"), "referrerUrl": order.get("referring_site")}
    return {
        "id": f"gid://shopify/Order/{order['id']}",
        "name": order["name"],
        "email": order.get("email"),
        "createdAt": order["created_at"],
        "updatedAt": order["updated_at"],
        "processedAt": order["processed_at"],
        "cancelledAt": order.get("cancelled_at"),
        "currencyCode": currency,
        "displayFinancialStatus": str(order["financial_status"]).upper(),
        "displayFulfillmentStatus": str(order.get("fulfillment_status") or "UNFULFILLED").upper(),
        "test": order.get("test", False),
        "sourceName": order.get("source_name"),
        "discountCodes": [d["code"] for d in order.get("discount_codes") or []],
        "customAttributes": [{"key": a["name"], "value": a["value"]} for a in order.get("note_attributes") or []],
        "customer": {"id": f"gid://shopify/Customer/{customer['id']}"} if customer and customer.get("id") else None,
        "customerJourneySummary": {"lastVisit": visit, "firstVisit": visit} if order.get("landing_site") else None,
        "subtotalPriceSet": _money(order["subtotal_price"], currency),
        "totalDiscountsSet": _money(order["total_discounts"], currency),
        "totalRefundedSet": _money(refunded, currency),
        "totalPriceSet": _money(order["total_price"], currency),
        "totalTaxSet": _money(order["total_tax"], currency),
        "totalShippingPriceSet": _money("0.00", currency),
    }


def serve(fake: FakeShopify, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Any, threading.Thread]:
    """Run the fake on a real socket in a thread; returns (base URL, uvicorn server, thread)."""
    import socket

    import uvicorn

    if port == 0:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    config = uvicorn.Config(fake.app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake Shopify did not start")
        time.sleep(0.02)
    fake.base_url = f"http://{host}:{port}"
    return fake.base_url, server, thread


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def seed_orders(fake: FakeShopify, domain: str, count: int, days: int = 7, seed: int = 7) -> None:
    """``count`` paid orders spread over the last ``days`` days (some discounted, some with UTMs)."""
    import random

    rng = random.Random(seed)
    now = datetime.now(UTC)
    for i in range(count):
        created = now - timedelta(seconds=rng.randint(60, days * 86400 - 60))
        fake.add_order(
            domain,
            total=f"{rng.randint(10, 300)}.{rng.randint(0, 99):02d}",
            discount="5.00" if i % 5 == 0 else "0.00",
            discount_codes=["SAVE5"] if i % 5 == 0 else None,
            created_at=created,
            customer_id=100000 + i % 5000,
            email=f"c{i % 5000}@example.com",
            landing_site=f"/?utm_source=facebook&utm_medium=paid_social&utm_campaign=c{i % 9}" if i % 3 == 0 else None,
        )


def main() -> None:
    """``python -m multibuzz.commerce.fakes.shopify --shop demo.myshopify.com --orders 1000``: serve a fake
    store (for the demo and the benchmarks); prints its base URL and an access token, then serves."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--shop", default="demo.myshopify.com")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="")
    parser.add_argument("--api-key", default="fake-api-key")
    parser.add_argument("--api-secret", default="fake-api-secret")
    args = parser.parse_args()
    fake = FakeShopify(args.api_key, args.api_secret)
    seed_orders(fake, args.shop, args.orders)
    token = args.token or fake.issue_token(args.shop)
    fake.shop(args.shop).tokens.add(token)
    url, _server, thread = serve(fake, port=args.port)
    print(json.dumps({"base_url": url, "shop": args.shop, "token": token}), flush=True)
    thread.join()


if __name__ == "__main__":
    main()
