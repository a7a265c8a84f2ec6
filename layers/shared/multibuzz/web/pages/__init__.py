"""One router per page group; ``ROUTERS`` is the list the app includes (see ``multibuzz.web.nav``)."""

from __future__ import annotations

from fastapi import APIRouter

from multibuzz.web.pages import admin, attribution, conversions, me, programme, public, settings, tracking

ROUTERS: tuple[APIRouter, ...] = (
    public.router,
    attribution.router,
    conversions.router,
    tracking.router,
    programme.router,
    settings.router,
    me.router,
    admin.router,
)
