"""Click geo from an offline MaxMind-format database, when CloudFront's viewer headers are absent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from multibuzz.bootstrap import Container
from multibuzz.redirect.cache import LinkSnapshot, TtlCache
from multibuzz.redirect.geoip import MmdbGeoResolver
from multibuzz.redirect.service import Redirector
from multibuzz.settings import Settings
from netaddr import IPSet

from tests.functional.test_redirect_handler import event, make_link


def write_city_db(path: Path) -> Path:
    """A GeoLite2-City-shaped database with two networks (as MaxMind lays out its records)."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"])
    writer.insert_network(
        IPSet(["203.0.113.0/24"]),
        {"country": {"iso_code": "DE", "names": {"en": "Germany"}}, "city": {"names": {"en": "München"}}},
    )
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "fr"}})  # country only
    writer.insert_network(IPSet(["2001:db8::/32"]), {"registered_country": {"iso_code": "NL"}})
    writer.to_db_file(str(path))
    return path


def test_the_resolver_reads_country_and_city(tmp_path: Path) -> None:
    resolver = MmdbGeoResolver(write_city_db(tmp_path / "city.mmdb"))
    assert resolver("203.0.113.9") == ("DE", "München")
    assert resolver("198.51.100.7") == ("FR", None)
    assert resolver("2001:db8::1") == ("NL", None)
    assert resolver("192.0.2.1") == (None, None), "not in the database"
    assert resolver("not an ip") == (None, None)
    resolver.close()


def test_settings_refuse_a_missing_database(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MULTIBUZZ_GEOIP_DATABASE"):
        Settings(geoip_database=tmp_path / "missing.mmdb")


def test_a_redirect_without_cloudfront_headers_gets_geo_from_the_database(container: Container, tmp_path: Path) -> None:
    database = write_city_db(tmp_path / "city.mmdb")
    settings = container.settings.model_copy(update={"geoip_database": database})
    container.__dict__["settings"] = settings
    container.__dict__.pop("geo_resolver", None)
    link = make_link(container)
    redirector = Redirector(lambda: container, cache=TtlCache[LinkSnapshot]())

    def recorded(headers: dict[str, str], source_ip: str) -> dict[str, Any]:
        request = event(link.code, headers=headers)
        request["requestContext"]["http"]["sourceIp"] = source_ip
        assert redirector(request)["statusCode"] == 302
        redirector.flush()
        (message,) = container.local_queue.receive("clicks", 10)
        container.local_queue.delete("clicks", message.receipt_handle)
        payload: dict[str, Any] = json.loads(message.body)["payload"]
        return payload

    from_db = recorded({}, "203.0.113.9")
    assert (from_db["country"], from_db["city"]) == ("DE", "München")
    assert from_db["ip"] == "203.0.113.0", "the lookup uses the full address; the click keeps the truncated one"
    cloudfront = recorded({"cloudfront-viewer-country": "us", "cloudfront-viewer-city": "Boston"}, "203.0.113.9")
    assert (cloudfront["country"], cloudfront["city"]) == ("US", "Boston"), "CloudFront's headers win"
    unknown = recorded({}, "192.0.2.44")
    assert (unknown["country"], unknown["city"]) == (None, None)
