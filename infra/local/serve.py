"""``make serve``: migrate, seed the demo account, start consumers and schedules, serve HTTP."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from multibuzz.bootstrap import get_container
from multibuzz.db.migrate import upgrade
from multibuzz.services.seed import seed_demo

from infra.local.gateway import LocalGateway
from infra.local.runtime import LocalRuntime


def prepare() -> None:
    container = get_container()
    settings = container.settings
    if settings.demo_shopify:
        from multibuzz.commerce.demo import start_fake_shopify

        container = start_fake_shopify(container)
    upgrade(container.engine)
    creds = seed_demo(
        container.session(),
        clock=container.clock,
        ids=container.ids,
        secret_box=container.secret_box,
        admin_email=settings.demo_admin_email,
        admin_password=settings.demo_admin_password.get_secret_value() if settings.demo_admin_password else None,
        api_key=settings.demo_api_key.get_secret_value() if settings.demo_api_key else None,
        credentials_file=settings.data_dir / "demo-credentials.json",
    )
    demo_store = None
    if settings.demo_shopify:
        from multibuzz.commerce.demo import connect_demo_store

        demo_store = connect_demo_store(container, creds.account_id)
    password = creds.admin_password or "(set earlier: MULTIBUZZ_DEMO_ADMIN_PASSWORD)"
    print(
        "\nMultibuzz is running locally\n"
        f"  URL            {settings.base_url}\n"
        f"  API docs       {settings.base_url}/api/v1/docs\n"
        f"  database       {settings.resolved_database_url.split('@')[-1]}\n"
        f"  demo account   {creds.account_id}\n"
        f"  admin login    {creds.admin_email} / {password}\n"
        f"  demo API key   {creds.api_key or '(shown at first start; see .multibuzz/demo-credentials.json)'}\n"
        + (f"  demo store     {demo_store} (a fake Shopify store; its 7-day fill is queued)\n" if demo_store else ""),
        flush=True,
    )


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    import uvicorn

    prepare()
    container = get_container()  # the demo may have re-derived it (MULTIBUZZ_DEMO_SHOPIFY)
    settings = container.settings
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler that was there before:
    # the default one would end the process at once and skip ``runtime.stop()`` (orphaning the click
    # shipper). Ours raises SystemExit instead, so the ``finally`` below runs.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    runtime = LocalRuntime(container, run_schedules=settings.run_schedules, ship_clicks=True)
    runtime.start()
    try:
        uvicorn.run(
            LocalGateway(),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
