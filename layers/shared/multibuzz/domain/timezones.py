"""IANA time zones an account's days are counted in."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@cache
def zone(name: str) -> ZoneInfo:
    """The zone for an IANA name (``"Europe/Paris"``); raises ValueError for an unknown one."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'") from exc


def is_timezone(name: str) -> bool:
    try:
        zone(name)
    except ValueError:
        return False
    return True
