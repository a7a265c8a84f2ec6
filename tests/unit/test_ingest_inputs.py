"""Pure input checks of ingestion: JSON bodies (depth, NUL), ISO 4217 codes, signature text."""

from __future__ import annotations

import json
from datetime import date

import pytest
from multibuzz.auth.signatures import sign, verify
from multibuzz.domain.currencies import active_codes, is_currency
from multibuzz.errors import InvalidInputError
from multibuzz.http.json_body import MalformedJsonError, depth, loads_object, nul_path


def test_deep_nesting_is_a_malformed_body_not_a_recursion_error() -> None:
    for raw in (b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000):
        with pytest.raises(MalformedJsonError) as caught:
            loads_object(raw)
        assert caught.value.field == "body" and caught.value.status == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visitor_id": "a\u0000"}, "visitor_id"),
        ({"events": [{"ok": 1}, {"properties": {"note": "x\u0000y"}}]}, "events[1].properties.note"),
        ({"events": [{"properties": {"k\u0000": 1}}]}, "events[0].properties"),
        ({"session": {"url": "https://s.example/\u0000"}}, "session.url"),
        ({"traits": {"tags": ["a", "b\u0000"]}}, "traits.tags[1]"),
    ],
)
def test_a_nul_anywhere_is_refused_naming_its_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        loads_object(json.dumps(body).encode())
    assert caught.value.field == field


def test_an_escaped_backslash_u0000_is_text_not_a_nul() -> None:
    raw = json.dumps({"note": "C:\\u0000"}).encode()  # the characters \, u, 0, 0, 0, 0
    assert loads_object(raw) == {"note": "C:\\u0000"}
    assert nul_path({"note": "C:\\u0000"}) is None


def test_depth() -> None:
    assert depth(1) == 0 and depth({}) == 1 and depth({"a": [1]}) == 2 and depth([[[[]]]]) == 4


def test_currencies_are_the_active_iso_4217_codes() -> None:
    assert is_currency("EUR") and is_currency("usd") and is_currency("JPY") and is_currency("ZWG")
    for code in ("ZZZ", "DEM", "HRK", "XAU", "XTS", "XXX", "EURO", ""):
        assert not is_currency(code), code
    assert 150 < len(active_codes()) < 200


def test_the_currency_list_says_where_it_came_from() -> None:
    from importlib import resources

    document = json.loads(resources.files("multibuzz").joinpath("data", "iso4217.json").read_text(encoding="utf-8"))
    assert "ISO 4217" in document["source"]
    assert date.fromisoformat(document["generated"])


def test_a_non_ascii_signature_never_matches_and_never_raises() -> None:
    body = b'{"a": 1}'
    assert verify("whsec_x", body, sign("whsec_x", body))
    assert not verify("whsec_x", body, "caf\u00e9")
    assert not verify("whsec_x", body, "sha256=\u65e5\u672c")
