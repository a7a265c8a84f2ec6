"""The ingestion hot path's faster encoders and parser give exactly what the slower ones gave."""

from __future__ import annotations

import json
import math

import pytest
from multibuzz.consumers.envelope import Envelope, dumps_envelope

PAYLOADS = [
    {},
    {"events": [{"id": "evt_1", "props": {"title": "café 日本", "n": 1.5, "big": 10**20, "ok": True, "none": None}}]},
    {"vid": "v", "at": "2026-01-01T00:00:00+00:00", "nested": {"a": [1, [2, {"b": "c"}]]}},
    {"quote": 'a "b" \\ c\n\t\u2028', "float": 1e16, "small": 1e-7, "neg": -0.0},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_same_document_as_the_model(payload: dict[str, object]) -> None:
    fast = dumps_envelope("events.track", "evts_x", "acc_1", payload)
    model = Envelope(kind="events.track", id="evts_x", account_id="acc_1", payload=payload).dumps()
    assert fast == model  # the same serializer: the same text
    assert Envelope.loads(fast) == Envelope.loads(model)


def test_nan_and_infinity_become_null_as_in_the_model() -> None:
    payload = {"props": {"a": math.nan, "b": math.inf}}
    assert json.loads(dumps_envelope("k", "i", "a", payload)) == {
        "kind": "k",
        "id": "i",
        "account_id": "a",
        "payload": {"props": {"a": None, "b": None}},
    }


def test_what_the_model_refuses_is_refused_the_same_way() -> None:
    with pytest.raises(ValueError):  # a lone surrogate cannot be UTF-8 on the queue
        dumps_envelope("k", "i", "a", {"note": "\ud800"})
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        dumps_envelope("", "i", "a", {})


@pytest.mark.parametrize(
    ("group", "dedup"), [("acc_1:v1", "evts_x"), (None, None), ('acc:"q"\\ é 日\u2028', "d\t1"), ("g", None)]
)
def test_journal_line_header_is_the_json_encoder_s_text(group: str | None, dedup: str | None) -> None:
    from multibuzz.adapters.queue.journal import _ENCODE, _header

    assert _header("ingest", group, dedup) == _ENCODE({"q": "ingest", "g": group, "d": dedup})


@pytest.mark.parametrize(("index", "event_id"), [(0, "evt_abc"), (0, 'evt_"odd"\\é')])
def test_one_accepted_event_is_answered_with_the_batch_document_s_bytes(index: int, event_id: str) -> None:
    from multibuzz.http.responses import CompactJSONResponse
    from multibuzz.ingest.app import _accepted_one
    from multibuzz.ingest.enqueue import BatchOutcome

    fast = _accepted_one(index, event_id)
    full = CompactJSONResponse(BatchOutcome(accepted=[(index, event_id)]).body(), status_code=202)
    assert (fast.status_code, fast.body, fast.raw_headers) == (full.status_code, full.body, full.raw_headers)


BODIES = [
    b'{"a":1,"b":2,"a":3}',
    b'{"a":NaN,"b":Infinity,"c":-Infinity,"d":1e400,"e":-1e-400,"f":-0}',
    b'{"a":123456789012345678901234567890,"b":0.1,"c":1E+2,"d":5e-324,"e":1.7976931348623157e308}',
    b' {"\xc3\xa9":"\\u00e9\\n\\u2028","t":true,"f":false,"n":null,"l":[1,[2,{"x":"y"}]]} ',
    b'{"a":"\\ud800"}',  # a lone surrogate: json accepts it
    b'{"a":"\xed\xa0\x80"}',  # an encoded surrogate: json accepts it too (surrogatepass)
    b'\xef\xbb\xbf{"a":1}',  # a UTF-8 BOM: json accepts it
    b'{"a":"\\u0000"}',
]
BAD_BODIES = [
    b'{"a":1,}',
    b'{"a":"x\ny"}',
    b'{"a":"\xff"}',
    b'{"a":01}',
    b"[" * 100_000,
    b'{"a":' + b"1" * 5000 + b"}",
    b"[1]",
]


@pytest.mark.parametrize("body", BODIES)
def test_bodies_parse_as_json_parses_them(body: bytes) -> None:
    from multibuzz.http.json_body import parse_json as _parse

    parsed = _parse(body)
    assert repr(parsed) == repr(json.loads(body))  # repr: NaN != NaN, and key order counts
    assert list(parsed) == list(json.loads(body))


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bodies_json_refuses_are_refused_with_its_error(body: bytes) -> None:
    from multibuzz.errors import MultibuzzError
    from multibuzz.http.json_body import loads_object

    try:
        json.loads(body)
    except RecursionError:
        expected = "request body is nested too deeply"
    except (ValueError, UnicodeDecodeError):
        expected = "request body is not valid JSON"
    else:
        expected = "request body must be a JSON object"
    with pytest.raises(MultibuzzError) as raised:
        loads_object(body)
    assert str(raised.value.args[0]) == expected


def _slow_properties_check(value: dict[str, object]) -> str | None:
    """What ``_properties_size`` checked on every map before its shortcut (the reference)."""
    from multibuzz.http.json_body import MAX_MAP_DEPTH, depth
    from multibuzz.ingest.schemas import MAX_PROPERTIES_BYTES

    if depth(value) > MAX_MAP_DEPTH:
        return "deep"
    try:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return "unserialisable"
    return "large" if size > MAX_PROPERTIES_BYTES else None


def _nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"x": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


PROPERTY_MAPS = [
    {},
    {"title": "Spring sale", "path": "/p/3", "n": 1.5, "nan": math.nan, "inf": -math.inf, "é": "日本\u2028"},
    {"floats": [1e15] * 1000},  # short here, 18 characters each in json's text: 19 KB
    {"floats": [1e15] * 2000},  # 37 KB in json's text: too large
    {"text": "x" * 4000},
    {"text": "x" * 32_760},  # at the limit
    {"text": "x" * 32_770},  # just over it
    {"note": "\ud800"},  # a lone surrogate
    _nested(16),
    _nested(17),
    {"a": [[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]},  # 17 levels
    {"brackets": "{[" * 20},  # brackets inside a string are no nesting
]


@pytest.mark.parametrize("value", PROPERTY_MAPS)
def test_properties_checks_decide_as_the_full_checks(value: dict[str, object]) -> None:
    from multibuzz.ingest.schemas import _properties_size

    try:
        _properties_size(value)
        outcome = None
    except ValueError as exc:
        outcome = "deep" if "nested" in str(exc) else "unserialisable" if "serialisable" in str(exc) else "large"
    assert outcome == _slow_properties_check(value)
