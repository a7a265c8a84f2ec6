"""Rows → CSV or JSON lines → (optionally) gzip, hashed as it goes. Pure: no I/O, constant memory.

``RowEncoder.encode(rows)`` returns the bytes of those rows as they will be stored (compressed when
gzip is on); the caller appends them to the object. ``finish()`` returns the tail (gzip's trailer).
The sha256 and byte count are of the stored object, so a manifest reader can check the download.
gzip output is deterministic here (zlib writes no file name and a zero mtime), so a retried export
produces the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from multibuzz.exports.datasets import ExportColumn

GZIP_LEVEL = 6
_BOOL = {True: "true", False: "false"}  # 1 and 0 (raw driver values) hash as True and False


def _timestamp(value: Any) -> Any:
    # MySQL hands back datetimes; SQLite its stored text, already "YYYY-MM-DD HH:MM:SS.ffffff".
    if value.__class__ is datetime:
        return value.isoformat(" ", "microseconds")
    return value


def _boolean(value: Any) -> Any:
    return _BOOL.get(value, value)


def _decimal(value: Any) -> Any:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


_CSV_CONVERT: dict[str, Callable[[Any], Any]] = {"timestamp": _timestamp, "boolean": _boolean, "decimal": _decimal}


class RowEncoder:
    def __init__(self, columns: Sequence[ExportColumn], fmt: str, gzip: bool, level: int = GZIP_LEVEL) -> None:
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"unknown format {fmt!r}")
        self.columns = tuple(columns)
        self.format = fmt
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31) if gzip else None  # 31: gzip framing
        self._hash = hashlib.sha256()
        self.bytes = 0
        self.rows = 0
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._convert = [(i, _CSV_CONVERT[c.kind]) for i, c in enumerate(self.columns) if c.kind in _CSV_CONVERT]
        self._names = [c.name for c in self.columns]
        self._json_columns = [c.name for c in self.columns if c.kind == "json"]

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def _out(self, text: str) -> bytes:
        data = text.encode("utf-8")
        if self._compressor is not None:
            data = self._compressor.compress(data)
        self._hash.update(data)
        self.bytes += len(data)
        return data

    def header(self) -> bytes:
        if self.format != "csv":
            return b""
        self._csv.writerow(self._names)
        return self._drain()

    def _drain(self) -> bytes:
        text = self._text.getvalue()
        self._text.seek(0)
        self._text.truncate()
        return self._out(text)

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """The stored bytes of ``rows`` (a batch: a partition of the cursor)."""
        if not rows:
            return b""
        self.rows += len(rows)
        if self.format == "csv":
            convert = self._convert
            self._csv.writerows([_converted(row, convert) for row in rows] if convert else rows)
            return self._drain()
        return self._out("".join([self.json_line(row) for row in rows]))

    def json_line(self, row: Sequence[Any]) -> str:
        record = dict(zip(self._names, row, strict=True))
        for name in self._json_columns:
            value = record[name]
            if isinstance(value, str):
                record[name] = json.loads(value)
        return json.dumps(record, default=_json_default, ensure_ascii=False, separators=(",", ":")) + "\n"

    def finish(self) -> bytes:
        if self._compressor is None:
            return b""
        data = self._compressor.flush()
        self._hash.update(data)
        self.bytes += len(data)
        return data


def _converted(row: Sequence[Any], convert: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    out = list(row)
    for index, func in convert:
        value = out[index]
        if value is not None:
            out[index] = func(value)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # money stays a string
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot encode {type(value).__name__}")
