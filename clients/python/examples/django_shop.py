"""A one-file Django shop tracked by Multibuzz. Run: MULTIBUZZ_API_KEY=sk_… MULTIBUZZ_API_URL=http://127.0.0.1:8000 \
python django_shop.py runserver"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from shop_pages import CURRENCY, PRODUCTS, cart_cookie, cart_page, funnel_detector, landing, parse_cart, thanks, total

import multibuzz_client as multibuzz


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(landing())


def cart(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        sku = request.POST.get("sku", "")
        items = parse_cart(request.COOKIES.get("cart"))
        if sku in PRODUCTS:
            items.append(sku)
            multibuzz.track("add_to_cart", {"sku": sku, "price": str(PRODUCTS[sku][1]), "currency": CURRENCY})
        response = HttpResponseRedirect("/cart", status=303)
        response.set_cookie("cart", cart_cookie(items), httponly=True, samesite="Lax")
        return response
    return HttpResponse(cart_page(parse_cart(request.COOKIES.get("cart"))))


def checkout(request: HttpRequest) -> HttpResponse:
    items = parse_cart(request.COOKIES.get("cart"))
    order_id = f"ORD-{uuid.uuid4().hex[:10]}"
    email = request.POST.get("email", "").strip().lower()
    if email:
        multibuzz.identify(email, {"email": email})
    multibuzz.conversion(
        "purchase", total(items), CURRENCY, {"order_id": order_id, "items": items}, idempotency_key=order_id
    )
    response = HttpResponse(thanks(order_id, total(items)))
    response.delete_cookie("cart")
    return response


urlpatterns = [path("", home), path("cart", cart), path("checkout", checkout)]


def create_app(**options: Any) -> WSGIHandler:
    """Settings in code (a real project keeps them in settings.py): MULTIBUZZ holds the configure() arguments."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="example-shop-not-secret",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            MIDDLEWARE=["multibuzz_client.django.MultibuzzMiddleware"],
            INSTALLED_APPS=[],
            MULTIBUZZ={"funnel_detector": funnel_detector, **options},
        )
    else:
        settings.MULTIBUZZ = {"funnel_detector": funnel_detector, **options}
    import django

    django.setup()
    multibuzz.configure(**settings.MULTIBUZZ)
    return WSGIHandler()


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    create_app()
    execute_from_command_line(sys.argv)
