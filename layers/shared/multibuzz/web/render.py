"""Jinja2 rendering: one environment (autoescaped), the CSRF token and the menu in every page's context."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from multibuzz.bootstrap import get_container
from multibuzz.web.assets import asset_url
from multibuzz.web.nav import menu
from multibuzz.web.security import csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env: Environment | None = None
_lock = threading.Lock()


def _money(value: Any, currency: str | None = None) -> str:
    text = f"{Decimal(str(value)):,.2f}" if value not in (None, "") else "—"
    return f"{text} {currency}" if currency else text


def _share(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}" if value not in (None, "") else "—"


def environment() -> Environment:
    global _env
    if _env is None:
        with _lock:
            if _env is None:
                env = Environment(
                    loader=FileSystemLoader(TEMPLATES),
                    autoescape=select_autoescape(["html", "svg"]),
                    trim_blocks=True,
                    lstrip_blocks=True,
                )
                env.globals["asset_url"] = asset_url
                env.globals["urlencode"] = urlencode
                env.filters["money"] = _money
                env.filters["share"] = _share
                _env = env
    return _env


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    seed = getattr(request.state, "csrf_seed", "")
    actor = getattr(request.state, "actor", None)
    secret = get_container().settings.jwt_secret.get_secret_value()
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            actor=actor,
            menu=menu(actor),
            current_path=request.url.path,
            csrf_token=csrf_token(secret, seed) if seed else "",
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)
