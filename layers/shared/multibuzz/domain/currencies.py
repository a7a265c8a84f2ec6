"""ISO 4217 currency codes a price may be in (data/iso4217.json; refreshed by scripts/refresh_iso4217.py)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def active_codes() -> frozenset[str]:
    text = resources.files("multibuzz").joinpath("data", "iso4217.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["codes"])


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code (case-insensitive): ``"eur"`` yes, ``"ZZZ"`` and ``"DEM"`` no."""
    return code.upper() in active_codes()
