"""The management API application: routers collected in one place."""

from __future__ import annotations

from fastapi import FastAPI

from multibuzz.api.routers import (
    accounts,
    admin,
    admin_metrics,
    api_keys,
    auth,
    campaigns,
    clicks,
    commerce,
    conversions,
    coupons,
    dashboards,
    events,
    health,
    influencers,
    links,
    meta,
    privacy,
    stats,
    visitors,
)
from multibuzz.http.app import create_app


def create_api_app() -> FastAPI:
    app = create_app("Multibuzz API", docs=True)
    for router in (health.router, auth.router, accounts.router, api_keys.router, conversions.router):
        app.include_router(router)
    for router in (campaigns.router, influencers.router, coupons.router, links.router, clicks.router):
        app.include_router(router)
    for router in (
        events.router,
        visitors.router,
        privacy.router,
        commerce.router,
        meta.router,
        dashboards.router,
        admin_metrics.router,
    ):
        app.include_router(router)
    app.include_router(stats.router)
    app.include_router(admin.router)
    return app
