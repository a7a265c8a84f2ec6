"""``make serve``: migrate, seed the demo account, start consumers and schedules, serve HTTP."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from multibuzz.bootstrap import Container, get_container
from multibuzz.db.migrate import upgrade
from multibuzz.services.seed import DemoCredentials, seed_demo

from infra.local.gateway import LocalGateway
from infra.local.runtime import LocalRuntime


def prepare() -> DemoCredentials:
    container = get_container()
    settings = container.settings
    if settings.demo_shopify or settings.demo_data:
        from multibuzz.commerce.demo import start_fake_shopify

        container = start_fake_shopify(container)
    if settings.demo_data:
        from multibuzz.commerce.demo import start_fake_meta

        container = start_fake_meta(container)
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
    if settings.demo_shopify or settings.demo_data:
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
        + (f"  demo store     {demo_store} (a fake Shopify store; its 7-day fill is queued)\n" if demo_store else "")
        + (
            f"  demo data      {settings.demo_days} days of traffic, loaded in the background once serving"
            " (first start only; MULTIBUZZ_DEMO_DATA=false turns it off)\n"
            if settings.demo_data
            else ""
        ),
        flush=True,
    )
    return creds


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    import uvicorn

    creds = prepare()
    container = get_container()  # the demo may have re-derived it (the fake Shopify and Meta)
    settings = container.settings
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler that was there before:
    # the default one would end the process at once and skip ``runtime.stop()`` (orphaning the click
    # shipper). Ours raises SystemExit instead, so the ``finally`` below runs.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    runtime = LocalRuntime(container, run_schedules=settings.run_schedules, ship_clicks=True)
    runtime.start()
    stop_demo = _start_demo_data(container, creds)
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
        if stop_demo is not None:
            stop_demo.set()
        runtime.stop()
    return 0


def _start_demo_data(container: Container, creds: DemoCredentials) -> threading.Event | None:
    """The demo traffic, sent to this server once it answers (a background thread: no delay to start-up)."""
    settings = container.settings
    if not settings.demo_data:
        return None
    if not creds.api_key:
        print("demo data skipped: the demo API key is not known (set MULTIBUZZ_DEMO_API_KEY)", file=sys.stderr)
        return None
    from multibuzz.demo.loader import start_in_background

    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    _thread, stop = start_in_background(container, creds.account_id, creds.api_key, f"http://{host}:{settings.port}")
    return stop


if __name__ == "__main__":
    sys.exit(main())
