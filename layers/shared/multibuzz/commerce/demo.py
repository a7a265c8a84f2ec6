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


# -- Meta ------------------------------------------------------------------------------------------------
DEMO_AD_ACCOUNT = "act_70010001"
DEMO_META_TOKEN = "EAAB-demo-meta-token"
#: The demo ad account's campaigns (id, name); the demo traffic's paid-social visits carry them as
#: ``utm_id`` / ``utm_campaign``, so the Meta dashboard matches attributed revenue to spend.
DEMO_META_CAMPAIGNS = (("700190001", "Spring Sale"), ("700190002", "Retargeting"))
_meta: list[Any] = []


def start_fake_meta(container: Container) -> Container:
    """Serve a fake Graph API and return a container whose Graph URL points at it (installed process-wide).

    Skipped when a real Meta app is configured (``MULTIBUZZ_META_APP_ID``): the demo must not redirect it."""
    from multibuzz.commerce.fakes.meta import FakeAd, FakeMeta

    settings = container.settings
    if settings.meta_app_id:
        logger.warning("demo ad account skipped: a real Meta app is configured")
        return container
    fake = FakeMeta(async_polls=1)
    account = fake.add_account(DEMO_AD_ACCOUNT, DEMO_META_TOKEN, name="Demo ads")
    for n, (campaign_id, name) in enumerate(DEMO_META_CAMPAIGNS):
        for a in range(2):
            account.ads.append(
                FakeAd(
                    ad_id=f"{campaign_id}{a + 1:02d}",
                    campaign_id=campaign_id,
                    campaign_name=name,
                    adset_id=f"70018000{n + 1}",
                    ad_name=f"{name} ad {a + 1}",
                    adset_name=f"{name} audience",
                )
            )
    graph_url = fake.serve()
    _meta.append(fake)
    demo = Container(
        settings.model_copy(update={"meta_graph_url": graph_url}),
        clock=container.clock,
        ids=container.ids,
    )
    use_container(demo)
    return demo


def connect_demo_ad_account(container: Container, account_id: str, days: int) -> str | None:
    """Connect the fake ad account to the demo account (in the account's currency and zone) and fill its last
    ``days`` days of spend; returns the integration id (None without the fake)."""
    from multibuzz.commerce.meta.sync import MetaSync, sync_all
    from multibuzz.db.models import Account

    if not _meta:
        return None
    fake = _meta[0]
    with container.session() as session:
        account = session.get_one(Account, account_id)
        ad_account = fake.accounts[DEMO_AD_ACCOUNT.removeprefix("act_")]
        ad_account.currency, ad_account.timezone_name = account.currency, account.timezone
        integration = MetaSync.from_container(container).connect(session, account_id, DEMO_AD_ACCOUNT, DEMO_META_TOKEN)
        session.commit()
        integration_id = integration.id
    detail = {"integration_id": integration_id, "type": "meta_7d_fill", "trigger": "manual", "days": days}
    result = sync_all(container, detail, poll_seconds=0.05)
    logger.info("demo ad account filled", extra={"integration_id": integration_id, "result": result})
    return integration_id
