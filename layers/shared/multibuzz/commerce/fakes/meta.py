"""A fake Meta Graph API: a small real HTTP server that answers like the Marketing API does.

What it serves (the subset Multibuzz uses, shaped like the documented answers):

- ``GET /act_{id}?fields=currency,name,timezone_name`` — the ad account;
- ``GET /act_{id}/insights`` — ``level=ad``, ``time_increment=1``, ``time_range``, ``filtering``
  (``ad.effective_status IN [...]``), ``limit``; pages with ``paging.cursors.after`` and ``paging.next``;
  numbers as strings, purchases in ``actions`` / ``action_values``;
- ``POST /act_{id}/insights`` — an async report run (``report_run_id``); ``GET /{run_id}`` answers
  ``async_status`` / ``async_percent_completion`` (completed after ``async_polls`` polls);
  ``GET /{run_id}/insights`` pages the result;
- throttling: scripted answers (:meth:`FakeMeta.inject`) such as error code 17 with an
  ``X-Business-Use-Case-Usage`` header, and usage headers on every answer;
- the access token from ``Authorization: Bearer``/``OAuth`` or ``access_token``; a wrong one is code 190.

The data is generated from a seed (ads x days) so a benchmark can ask for 180k rows without storing
them; :meth:`FakeMeta.set_day` overrides one ad-day (Meta revises recent days: the attribution window).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

PURCHASE = "offsite_conversion.fb_pixel_purchase"


@dataclass
class FakeAd:
    ad_id: str
    campaign_id: str
    campaign_name: str
    adset_id: str
    effective_status: str = "ACTIVE"
    ad_name: str = ""
    adset_name: str = ""


@dataclass
class FakeAdAccount:
    account_id: str  # digits, without act_
    token: str
    currency: str = "USD"
    name: str = "Fake ad account"
    timezone_name: str = "UTC"
    ads: list[FakeAd] = field(default_factory=list)
    start: dt.date = dt.date(2020, 1, 1)  # no delivery before this day
    overrides: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def add_ads(self, count: int, campaigns: int = 3, statuses: tuple[str, ...] = ("ACTIVE",)) -> list[FakeAd]:
        made = []
        for i in range(count):
            c = i % campaigns
            ad = FakeAd(
                ad_id=f"{self.account_id}{len(self.ads) + 1:06d}",
                campaign_id=f"{self.account_id}9{c:04d}",
                campaign_name=f"Campaign {c + 1}",
                adset_id=f"{self.account_id}8{c:04d}",
                effective_status=statuses[i % len(statuses)],
                ad_name=f"Ad {len(self.ads) + 1}",
                adset_name=f"Ad set {c + 1}",
            )
            self.ads.append(ad)
            made.append(ad)
        return made


@dataclass
class Scripted:
    """One scripted answer, given after ``after`` more ordinary requests."""

    after: int
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    path_contains: str = ""


def day_metrics(ad_id: str, day: dt.date) -> dict[str, str]:
    """Deterministic spend / impressions / clicks / purchases of an ad on a day."""
    digest = hashlib.blake2b(f"{ad_id}|{day.isoformat()}".encode(), digest_size=8).digest()
    n = int.from_bytes(digest, "big")
    cents = 100 + n % 9_900  # 1.00 to 99.99
    impressions = 100 + (n >> 16) % 5_000
    clicks = (n >> 32) % 200
    purchases = (n >> 40) % 4
    value_cents = purchases * (1_500 + (n >> 48) % 8_000)
    return {
        "spend": f"{Decimal(cents) / 100:.2f}",
        "impressions": str(impressions),
        "clicks": str(clicks),
        "purchases": str(purchases),
        "purchase_value": f"{Decimal(value_cents) / 100:.2f}",
    }


def _b64(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _unb64(cursor: str) -> int:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not raw.startswith("o:"):
        raise ValueError("bad cursor")
    return int(raw[2:])


class GraphError(Exception):
    def __init__(self, status: int, code: int, message: str, type_: str = "OAuthException", subcode: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.type, self.subcode = status, code, message, type_, subcode

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code, "fbtrace_id": "FAKE"}
        if self.subcode:
            error["error_subcode"] = self.subcode
        return {"error": error}


class FakeMeta:
    """State and behaviour of the fake; :meth:`serve` runs it on a loopback port."""

    def __init__(self, async_polls: int = 2, version: str = "v21.0") -> None:
        self.accounts: dict[str, FakeAdAccount] = {}
        self.async_polls = async_polls
        self.version = version
        self.scripted: list[Scripted] = []
        self.requests: list[tuple[str, str]] = []  # (method, path?query) of every request
        self.usage_pct = 5  # reported in the usage headers of every answer
        self._runs: dict[str, dict[str, Any]] = {}
        self._cache: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # paged reads of one query share its rows
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- setup --------------------------------------------------------------------------------------
    def add_account(self, account_id: str, token: str, **kwargs: Any) -> FakeAdAccount:
        account = FakeAdAccount(account_id=account_id.removeprefix("act_"), token=token, **kwargs)
        self.accounts[account.account_id] = account
        return account

    def set_day(self, account_id: str, ad_id: str, day: dt.date, **metrics: str) -> None:
        account = self.accounts[account_id.removeprefix("act_")]
        current = account.overrides.get((ad_id, day.isoformat())) or day_metrics(ad_id, day)
        account.overrides[(ad_id, day.isoformat())] = {**current, **metrics}
        self._cache.clear()

    def inject(
        self,
        *,
        after: int = 0,
        status: int = 400,
        code: int = 17,
        message: str = "User request limit reached",
        headers: dict[str, str] | None = None,
        path_contains: str = "",
        subcode: int = 0,
    ) -> None:
        """Answer the request that comes ``after`` more ordinary ones with this Graph error instead."""
        body = GraphError(status, code, message, subcode=subcode).body()
        self.scripted.append(Scripted(after, status, body, headers or {}, path_contains))

    @staticmethod
    def usage_header(pct: int, regain_minutes: int = 0, business_id: str = "1234") -> dict[str, str]:
        """The ``X-Business-Use-Case-Usage`` header Meta sends (one ads_insights entry)."""
        entry = {
            "type": "ads_insights",
            "call_count": pct,
            "total_cputime": pct,
            "total_time": pct,
            "estimated_time_to_regain_access": regain_minutes,
        }
        return {"X-Business-Use-Case-Usage": json.dumps({business_id: [entry]})}

    # -- data ---------------------------------------------------------------------------------------
    def rows(self, account: FakeAdAccount, params: dict[str, str]) -> list[dict[str, Any]]:
        try:
            time_range = json.loads(params.get("time_range", "{}"))
            since = dt.date.fromisoformat(time_range["since"])
            until = dt.date.fromisoformat(time_range["until"])
        except (ValueError, KeyError, TypeError) as exc:
            raise GraphError(400, 100, "(#100) time_range must be {'since':'YYYY-MM-DD','until':'YYYY-MM-DD'}") from exc
        if params.get("level", "ad") != "ad" or params.get("time_increment") not in ("1", None):
            raise GraphError(400, 100, "(#100) the fake serves level=ad, time_increment=1 only")
        statuses: set[str] | None = None
        for rule in json.loads(params.get("filtering", "[]")):
            if rule.get("field") == "ad.effective_status" and rule.get("operator") == "IN":
                statuses = set(rule.get("value", []))
        ads = [ad for ad in account.ads if statuses is None or ad.effective_status in statuses]
        out: list[dict[str, Any]] = []
        day = max(since, account.start)
        while day <= until:
            iso = day.isoformat()
            for ad in ads:
                m = account.overrides.get((ad.ad_id, iso)) or day_metrics(ad.ad_id, day)
                out.append(
                    {
                        "account_id": account.account_id,
                        "account_currency": account.currency,
                        "campaign_id": ad.campaign_id,
                        "campaign_name": ad.campaign_name,
                        "adset_id": ad.adset_id,
                        "adset_name": ad.adset_name,
                        "ad_id": ad.ad_id,
                        "ad_name": ad.ad_name,
                        "spend": m["spend"],
                        "impressions": m["impressions"],
                        "clicks": m["clicks"],
                        "actions": [
                            {"action_type": "link_click", "value": m["clicks"]},
                            {"action_type": PURCHASE, "value": m["purchases"]},
                        ],
                        "action_values": [{"action_type": PURCHASE, "value": m["purchase_value"]}],
                        "date_start": iso,
                        "date_stop": iso,
                    }
                )
            day += dt.timedelta(days=1)
        return out

    # -- request handling -----------------------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = urlsplit(target)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        path = parts.path
        prefix = f"/{self.version}"
        if path.startswith(prefix):
            path = path[len(prefix) :]
        with self._lock:
            self.requests.append((method, target))
            scripted = self._next_scripted(path)
        usage = {"X-Ad-Account-Usage": json.dumps({"acc_id_util_pct": self.usage_pct, "reset_time_duration": 0})}
        if scripted is not None:
            return scripted.status, scripted.body, {**usage, **scripted.headers}
        token = params.get("access_token") or headers.get("authorization", "").partition(" ")[2]
        try:
            return 200, self._route(method, path, params, token), usage
        except GraphError as exc:
            return exc.status, exc.body(), usage

    def _next_scripted(self, path: str) -> Scripted | None:
        for item in self.scripted:
            if item.path_contains and item.path_contains not in path:
                continue
            if item.after <= 0:
                self.scripted.remove(item)
                return item
            item.after -= 1
            break
        return None

    def _account(self, act: str, token: str) -> FakeAdAccount:
        account = self.accounts.get(act.removeprefix("act_"))
        if account is None:
            raise GraphError(
                400, 100, f"Unsupported get request. Object with ID '{act}' does not exist", "GraphMethodException", 33
            )
        if token != account.token:
            raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")
        return account

    def _route(self, method: str, path: str, params: dict[str, str], token: str) -> dict[str, Any]:
        segments = [s for s in path.split("/") if s]
        if len(segments) == 1 and segments[0].startswith("act_") and method == "GET":
            account = self._account(segments[0], token)
            fields = params.get("fields", "id").split(",")
            full = {
                "id": f"act_{account.account_id}",
                "account_id": account.account_id,
                "currency": account.currency,
                "name": account.name,
                "timezone_name": account.timezone_name,
            }
            return {k: v for k, v in full.items() if k in fields or k == "id"}
        if len(segments) == 2 and segments[0].startswith("act_") and segments[1] == "insights":
            account = self._account(segments[0], token)
            key = (
                account.account_id,
                *(params.get(k, "") for k in ("time_range", "filtering", "level", "time_increment")),
            )
            if method == "POST" or key not in self._cache:
                self._cache[key] = self.rows(account, params)
            rows = self._cache[key]
            if method == "POST":
                run_id = f"{len(self._runs) + 1:015d}"
                self._runs[run_id] = {"rows": rows, "polls": 0, "token": token}
                return {"report_run_id": run_id}
            return self._page(rows, params, f"/{segments[0]}/insights")
        if segments and segments[0] in self._runs:
            run = self._runs[segments[0]]
            if token != run["token"]:
                raise GraphError(400, 190, "Invalid OAuth access token - Cannot parse access token")
            if len(segments) == 1:
                run["polls"] += 1
                done = run["polls"] >= self.async_polls
                pct = 100 if done else int(100 * run["polls"] / self.async_polls)
                return {
                    "id": segments[0],
                    "async_status": "Job Completed" if done else "Job Running",
                    "async_percent_completion": pct,
                }
            if segments[1:] == ["insights"]:
                if run["polls"] < self.async_polls:
                    raise GraphError(400, 100, "(#100) report run not completed yet")
                return self._page(run["rows"], params, f"/{segments[0]}/insights")
        raise GraphError(400, 100, f"Unknown path components: {path}", "GraphMethodException")

    def _page(self, rows: list[dict[str, Any]], params: dict[str, str], path: str) -> dict[str, Any]:
        limit = max(1, min(int(params.get("limit", "25")), 5000))
        try:
            offset = _unb64(params["after"]) if params.get("after") else 0
        except ValueError as exc:
            raise GraphError(400, 100, "(#100) invalid cursor") from exc
        chunk = rows[offset : offset + limit]
        answer: dict[str, Any] = {"data": chunk}
        if chunk:
            answer["paging"] = {"cursors": {"before": _b64(offset), "after": _b64(offset + len(chunk))}}
            if offset + len(chunk) < len(rows):
                query = {k: v for k, v in params.items() if k != "after"}
                query["after"] = _b64(offset + len(chunk))
                answer["paging"]["next"] = f"{self.url}/{self.version}{path}?{urlencode(query)}"
        return answer

    # -- serving ------------------------------------------------------------------------------------
    def serve(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload, extra = fake.handle(self.command, self.path, headers, body)
                data = json.dumps(payload, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=UTF-8")
                self.send_header("content-length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = _answer  # noqa: N815 - http.server's naming
            do_POST = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"{self.url}/{self.version}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def running(fake: FakeMeta) -> Iterator[str]:
    """Serve ``fake`` for the life of a ``with``-less fixture: yields the Graph base URL."""
    try:
        yield fake.serve()
    finally:
        fake.close()
