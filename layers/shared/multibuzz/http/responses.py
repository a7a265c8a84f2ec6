"""``JSONResponse`` with the same bytes, rendered by one reused encoder.

Starlette's ``JSONResponse.render`` calls ``json.dumps`` with arguments, which builds a new encoder for
every response; the ingestion routes answer one small JSON document per event, so they reuse one.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

_ENCODE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode


class CompactJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _ENCODE(content).encode("utf-8")
