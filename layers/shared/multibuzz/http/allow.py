"""Which methods a path accepts across the whole HTTP API, for the ``Allow`` header of a 405.

The api function is API Gateway's fallback (``ANY /api/v1/{proxy+}``): a method that no route of any
function takes lands there. Its own routes are not the whole answer (``POST /api/v1/events`` belongs to
the events function), so the methods come from the topology's explicit route keys and the app's routes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from multibuzz import topology

_PARAM = re.compile(r"\{([^}:+]+)(\+|:path)?(?::[^}]*)?\}")


def template_regex(template: str) -> re.Pattern[str]:
    """``/api/v1/event/{action}`` → a regex of the paths it matches (``{x+}`` and ``{x:path}`` are greedy)."""
    out, last = "", 0
    for found in _PARAM.finditer(template):
        out += re.escape(template[last : found.start()])
        out += ".+" if found.group(2) else "[^/]+"
        last = found.end()
    return re.compile("^" + out + re.escape(template[last:]) + "$")


@functools.cache
def _topology_routes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    routes = []
    for key, _ in topology.all_routes():
        method, template = key.split(" ", 1)
        if method != "ANY":  # a catch-all names no method of its own
            routes.append((method, template_regex(template)))
    return tuple(routes)


def app_routes(routes: Iterable[Any]) -> list[tuple[frozenset[str], re.Pattern[str]]]:
    from multibuzz.http.openapi import api_routes

    return [(frozenset(r.methods or ()), template_regex(r.path_format)) for r in api_routes(routes)]


def allowed_methods(path: str, routes: list[tuple[frozenset[str], re.Pattern[str]]]) -> list[str]:
    methods: set[str] = {method for method, regex in _topology_routes() if regex.match(path)}
    for route_methods, regex in routes:
        if regex.match(path):
            methods |= route_methods
    return sorted(methods)  # HEAD only where a route names it (the redirect): FastAPI routes answer GET alone
