"""The shop the three example apps share: a catalogue, a cart kept in a cookie, and the HTML."""

from __future__ import annotations

from decimal import Decimal
from html import escape

PRODUCTS = {"TEE": ("T-shirt", Decimal("25.00")), "MUG": ("Mug", Decimal("12.00"))}
CURRENCY = "USD"


def parse_cart(raw: str | None) -> list[str]:
    return [sku for sku in (raw or "").split("-") if sku in PRODUCTS]


def cart_cookie(cart: list[str]) -> str:
    return "-".join(cart)


def total(cart: list[str]) -> Decimal:
    return sum((PRODUCTS[sku][1] for sku in cart), Decimal("0.00"))


def page(title: str, body: str) -> str:
    head = f"<head><title>{escape(title)}</title></head>"
    return f"<!doctype html><html>{head}<body><h1>{escape(title)}</h1>{body}</body></html>"


def landing() -> str:
    items = "".join(
        f'<li>{escape(name)} — {price} {CURRENCY} <form method="post" action="/cart">'
        f'<input type="hidden" name="sku" value="{sku}"><button>Add to cart</button></form></li>'
        for sku, (name, price) in PRODUCTS.items()
    )
    return page("Example shop", f'<ul>{items}</ul><a href="/cart">Cart</a>')


def cart_page(cart: list[str]) -> str:
    lines = "".join(f"<li>{escape(PRODUCTS[sku][0])}</li>" for sku in cart) or "<li>empty</li>"
    form = '<form method="post" action="/checkout"><input name="email"><button>Pay</button></form>'
    return page("Cart", f"<ul>{lines}</ul><p>Total {total(cart)} {CURRENCY}</p>{form}")


def thanks(order_id: str, amount: Decimal) -> str:
    return page("Thank you", f"<p>Order {escape(order_id)}: {amount} {CURRENCY}</p>")


def funnel_detector(request: object) -> dict[str, object] | None:
    """Page views of the cart are step 1 of the checkout funnel (the seed's funnel_detector hook)."""
    path = getattr(request, "path", "")
    if path == "/cart":
        return {"funnel": "checkout", "funnel_step": "cart", "funnel_position": 1}
    return None
