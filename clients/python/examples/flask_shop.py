"""A Flask shop tracked by Multibuzz. Run: MULTIBUZZ_API_KEY=sk_… MULTIBUZZ_API_URL=http://127.0.0.1:8000 \
flask --app flask_shop:create_app run"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, make_response, redirect, request
from shop_pages import CURRENCY, PRODUCTS, cart_cookie, cart_page, funnel_detector, landing, parse_cart, thanks, total

import multibuzz_client as multibuzz
from multibuzz_client.flask import init_app


def create_app(**options: Any) -> Flask:
    multibuzz.configure(funnel_detector=funnel_detector, **options)  # key and URL from MULTIBUZZ_* when not given
    app = Flask(__name__)

    @app.get("/")
    def home() -> str:
        return landing()

    @app.get("/cart")
    def cart() -> str:
        return cart_page(parse_cart(request.cookies.get("cart")))

    @app.post("/cart")
    def add_to_cart() -> Any:
        sku = request.form.get("sku", "")
        items = parse_cart(request.cookies.get("cart"))
        if sku in PRODUCTS:
            items.append(sku)
            multibuzz.track("add_to_cart", {"sku": sku, "price": str(PRODUCTS[sku][1]), "currency": CURRENCY})
        response = redirect("/cart", code=303)
        response.set_cookie("cart", cart_cookie(items), httponly=True, samesite="Lax")
        return response

    @app.post("/checkout")
    def checkout() -> Any:
        items = parse_cart(request.cookies.get("cart"))
        order_id = f"ORD-{uuid.uuid4().hex[:10]}"
        email = request.form.get("email", "").strip().lower()
        if email:
            multibuzz.identify(email, {"email": email})
        multibuzz.conversion(
            "purchase", total(items), CURRENCY, {"order_id": order_id, "items": items}, idempotency_key=order_id
        )
        response = make_response(thanks(order_id, total(items)))
        response.delete_cookie("cart")
        return response

    init_app(app)
    return app
