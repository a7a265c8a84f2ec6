"""Country and city of a click from an offline IP database, when CloudFront's viewer headers are absent.

The database is a MaxMind DB file (``.mmdb``): MaxMind GeoLite2/GeoIP2 City or Country, or DB-IP's
free "IP to City Lite", which use the same record layout (``country.iso_code``, ``city.names.en``).
``MULTIBUZZ_GEOIP_DATABASE`` names the file; on Lambda it ships in a layer or is fetched to ``/tmp`` at
cold start. It is opened once per process (memory-mapped), lazily: the redirect's cold start pays
nothing when none is configured, and ``maxminddb`` is only imported when one is.

Lookups are pure reads of the map (a few µs) and never raise: an unknown, private or malformed
address, or a record without a city, gives ``None`` for what is missing. The raw IP is only used for
the lookup; what is stored follows the account's IP privacy setting.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol


class GeoResolver(Protocol):
    """An offline IP database: (country ISO code, city) for a raw IP; never raises."""

    def __call__(self, ip: str) -> tuple[str | None, str | None]: ...


class MmdbGeoResolver:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._reader: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    import maxminddb

                    self._reader = maxminddb.open_database(str(self.path), maxminddb.MODE_MMAP)
        return self._reader

    def __call__(self, ip: str) -> tuple[str | None, str | None]:
        try:
            record = self._open().get(ip)
        except ValueError:  # not an IP address
            return None, None
        if not isinstance(record, dict):
            return None, None
        country = record.get("country") or record.get("registered_country") or {}
        iso = country.get("iso_code") if isinstance(country, dict) else None
        city = record.get("city") or {}
        names = city.get("names") if isinstance(city, dict) else None
        name = names.get("en") if isinstance(names, dict) else None
        return (str(iso).upper()[:2] if iso else None, str(name)[:100] if name else None)

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
