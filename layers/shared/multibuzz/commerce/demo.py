"""Demo mode of ``make serve`` (``MULTIBUZZ_DEMO_SHOPIFY=true``): a fake Shopify store with a week of orders,
connected to the demo account, so a new user sees a connected store with data and no credentials.

The fake runs in-process on a free loopback port; the settings are re-derived to point the Shopify base URL
and app secret at it (only when no real Shopify app is configured).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from multibuzz.bootstrap import Container, use_container
from multibuzz.observability import get_logger

logger = get_logger("demo")
DEMO_SHOP = "demo-store.myshopify.com"
_servers: list[Any] = []


def start_fake_shopify(container: Container, orders: int = 400) -> Container:
    """Serve the fake store and return a container whose settings point at it (installed process-wide)."""
    from multibuzz.commerce.fakes.shopify import FakeShopify, seed_orders, serve

    settings = container.settings
    if (
        settings.shopify_api_secret.get_secret_value()
        and "{shop}" in settings.shopify_base_url
        and (settings.shopify_base_url.startswith("https://"))
    ):
        logger.warning("MULTIBUZZ_DEMO_SHOPIFY ignored: a real Shopify app is configured")
        return container
    fake = FakeShopify(api_key="demo-api-key", api_secret="demo-api-secret")
    seed_orders(fake, DEMO_SHOP, orders)
    url, server, _thread = serve(fake)
    _servers.append((fake, server))
    demo_settings = settings.model_copy(
        update={
            "shopify_api_key": "demo-api-key",
            "shopify_api_secret": SecretStr("demo-api-secret"),
            "shopify_base_url": f"{url}/{{shop}}",
        }
    )
    demo = Container(demo_settings, clock=container.clock, ids=container.ids)
    use_container(demo)
    return demo


def connect_demo_store(container: Container, account_id: str) -> str | None:
    """Connect the fake store to the demo account once (its 7-day fill is queued); returns the integration id."""
    from multibuzz.commerce import integrations as svc
    from multibuzz.commerce.shopify.connect import complete

    if not _servers:
        return None
    fake, _server = _servers[0]
    with container.session() as session:
        existing = [i for i in svc.list_integrations(session, account_id, type="shopify") if i.external_id == DEMO_SHOP]
        token = fake.issue_token(DEMO_SHOP)
        integration = complete(container, session, account_id, DEMO_SHOP, token, method="token")
        if existing:
            logger.info("demo store reconnected", extra={"integration_id": integration.id})
        return integration.id
