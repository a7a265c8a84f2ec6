"""One router per page group; ``ROUTERS`` is the list the app includes (see ``multibuzz.web.nav``)."""

from __future__ import annotations

from fastapi import APIRouter

from multibuzz.web.pages import (
    admin,
    attribution,
    conversions,
    dashboards,
    exports,
    integrations,
    me,
    programme,
    programme_stats,
    public,
    settings,
    tracking,
)

ROUTERS: tuple[APIRouter, ...] = (
    public.router,
    dashboards.router,
    attribution.router,
    conversions.router,
    tracking.router,
    programme_stats.router,
    programme.router,
    integrations.router,
    settings.router,
    exports.router,
    me.router,
    admin.router,
)
