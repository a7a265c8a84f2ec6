"""The export encoder (pure): CSV quoting, value formats, JSON lines, gzip framing, and a hash of the stored bytes."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from multibuzz.exports.datasets import CONVERSIONS, DATASETS, EVENTS
from multibuzz.exports.encoding import RowEncoder
from multibuzz.exports.service import object_keys

ROW = (
    "evt_1",
    datetime(2026, 1, 2, 3, 4, 5),  # MySQL hands back naive UTC datetimes
    "2026-01-02 03:04:06.000000",  # SQLite its stored text
    "page_view",
    "v1",
    None,
    None,
    "https://shop.test/?a=1,2",
    None,
    None,
    None,
    '{"note": "comma, \\"quote\\"\\nline", "n": 1}',
)


def _encode(fmt: str, gzip_on: bool, batches: list[list[tuple[object, ...]]]) -> tuple[bytes, RowEncoder]:
    encoder = RowEncoder(EVENTS.columns, fmt, gzip_on)
    out = encoder.header() + b"".join(encoder.encode(batch) for batch in batches) + encoder.finish()
    return out, encoder


def test_csv_rows_round_trip_through_a_csv_reader_with_one_timestamp_format() -> None:
    data, encoder = _encode("csv", False, [[ROW], [ROW]])
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert encoder.rows == 2 and len(rows) == 2
    assert rows[0]["occurred_at"] == "2026-01-02 03:04:05.000000"
    assert rows[0]["received_at"] == "2026-01-02 03:04:06.000000"
    assert rows[0]["session_id"] == "" and rows[0]["url"] == "https://shop.test/?a=1,2"
    assert json.loads(rows[0]["properties"]) == {"note": 'comma, "quote"\nline', "n": 1}


def test_the_hash_and_size_are_of_the_stored_bytes_and_gzip_is_deterministic() -> None:
    first, encoder = _encode("csv", True, [[ROW] * 100, [ROW] * 3])
    again, _ = _encode("csv", True, [[ROW] * 50, [ROW] * 53])  # other batch boundaries, same rows
    assert first == again, "a retried export must produce the same object"
    assert encoder.sha256 == hashlib.sha256(first).hexdigest() and encoder.bytes == len(first)
    assert gzip.decompress(first).count(b"\n") >= 104


def test_json_lines_keep_json_columns_as_objects_and_money_as_exact_strings() -> None:
    row = ("conv_1", "purchase", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1), "v", None, None)
    row += (Decimal("19.9900"), "EUR", True, 0, "attributed", 1, None, None, None, None, '{"order": "A-1"}')
    encoder = RowEncoder(CONVERSIONS.columns, "jsonl", False)
    record = json.loads(encoder.encode([row]))
    assert record["revenue"] == "19.99" and record["currency"] == "EUR"
    assert record["is_acquisition"] is True and record["properties"] == {"order": "A-1"}
    csv_line = RowEncoder(CONVERSIONS.columns, "csv", False).encode([row]).decode()
    assert ",19.99,EUR,true,false,attributed," in csv_line


def test_keys_are_laid_out_for_etl_and_the_registry_names_every_dataset() -> None:
    key, manifest = object_keys("acc_1", "events", "exp_9", "2026-12-01", "csv", True)
    assert key == "exports/acc_1/events/dt=2026-12-01/exp_9.csv.gz"
    assert manifest == "exports/acc_1/events/dt=2026-12-01/_exp_9.manifest.json"
    assert object_keys("acc_1", "clicks", "exp_9", "2026-12-01", "jsonl", False)[0].endswith("/exp_9.jsonl")
    assert list(DATASETS) == ["events", "sessions", "conversions", "attributions", "clicks", "orders", "daily_summary"]
    with pytest.raises(ValueError, match="unknown format"):
        RowEncoder(EVENTS.columns, "xml", False)


def test_day_keyed_datasets_take_the_account_zone_days_the_range_covers() -> None:
    from datetime import UTC, date, datetime

    from multibuzz.exports.datasets import ExportFilter

    # 2026-01-01..2026-01-31 in Berlin: [Dec 31 23:00 UTC, Jan 31 23:00 UTC)
    berlin = ExportFilter(
        "acc",
        datetime(2025, 12, 31, 23, tzinfo=UTC),
        datetime(2026, 1, 31, 23, tzinfo=UTC),
        datetime.now(UTC),
        zone="Europe/Berlin",
    )
    assert berlin.days() == (date(2026, 1, 1), date(2026, 2, 1))
    # date-time bounds mid-day: only whole days that start inside the range
    partial = ExportFilter(
        "acc", datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 1, 3, 6, tzinfo=UTC), datetime.now(UTC)
    )
    assert partial.days() == (date(2026, 1, 2), date(2026, 1, 4))
