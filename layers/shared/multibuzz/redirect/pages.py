"""The few HTML pages the redirect answers with (no templates, no user input echoed)."""

from __future__ import annotations

from typing import Any


def _page(title: str, text: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f'<meta name=robots content="noindex"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    )


NOT_FOUND = _page("Link not found", "This tracking link does not exist. Check the address and try again.")
GONE = _page("Link no longer active", "This tracking link has been disabled by its owner.")
UNAVAILABLE = _page("Temporarily unavailable", "We could not open this link right now. Please try again shortly.")

_NO_STORE = "no-store"


def html(status: int, body: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {
            "content-type": "text/html; charset=utf-8",
            "cache-control": _NO_STORE,
            "x-robots-tag": "noindex",
        },
        "body": body,
    }


def redirect(location: str) -> dict[str, Any]:
    return {
        "statusCode": 302,
        "headers": {
            "location": location,
            "cache-control": "private, no-store",
            "referrer-policy": "no-referrer-when-downgrade",
            "x-robots-tag": "noindex",
        },
        "body": "",
    }
