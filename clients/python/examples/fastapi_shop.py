"""A FastAPI shop tracked by Multibuzz. Run: MULTIBUZZ_API_KEY=sk_… MULTIBUZZ_API_URL=http://127.0.0.1:8000 \
uvicorn --factory fastapi_shop:create_app"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from shop_pages import CURRENCY, PRODUCTS, cart_cookie, cart_page, funnel_detector, landing, parse_cart, thanks, total

import multibuzz_client as multibuzz
from multibuzz_client.fastapi import MultibuzzMiddleware


async def form(request: Request) -> dict[str, str]:
    """The posted form (parsed here so the example needs no python-multipart)."""
    return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}


def create_app(**options: Any) -> FastAPI:
    multibuzz.configure(funnel_detector=funnel_detector, **options)
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return landing()

    @app.get("/cart", response_class=HTMLResponse)
    def cart(request: Request) -> str:
        return cart_page(parse_cart(request.cookies.get("cart")))

    @app.post("/cart")
    async def add_to_cart(request: Request) -> RedirectResponse:
        sku = (await form(request)).get("sku", "")
        items = parse_cart(request.cookies.get("cart"))
        if sku in PRODUCTS:
            items.append(sku)
            multibuzz.track("add_to_cart", {"sku": sku, "price": str(PRODUCTS[sku][1]), "currency": CURRENCY})
        response = RedirectResponse("/cart", status_code=303)
        response.set_cookie("cart", cart_cookie(items), httponly=True, samesite="lax")
        return response

    @app.post("/checkout", response_class=HTMLResponse)
    async def checkout(request: Request) -> HTMLResponse:
        email = (await form(request)).get("email", "")
        items = parse_cart(request.cookies.get("cart"))
        order_id = f"ORD-{uuid.uuid4().hex[:10]}"
        if email.strip():
            multibuzz.identify(email.strip().lower(), {"email": email.strip().lower()})
        multibuzz.conversion(
            "purchase", total(items), CURRENCY, {"order_id": order_id, "items": items}, idempotency_key=order_id
        )
        response = HTMLResponse(thanks(order_id, total(items)))
        response.delete_cookie("cart")
        return response

    app.add_middleware(MultibuzzMiddleware)
    return app
