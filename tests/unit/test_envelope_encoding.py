"""The ingestion path's envelope encoder writes what the ``Envelope`` model writes, for every payload."""

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
