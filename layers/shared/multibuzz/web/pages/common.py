"""Shared bits of the page routers: the date range of a request, in the account's time zone."""

from __future__ import annotations

from fastapi import Request

from multibuzz.bootstrap import Container
from multibuzz.db.models import Account
from multibuzz.web.dates import DateRange, resolve


def date_range(request: Request, account: Account | None, container: Container) -> DateRange:
    query = request.query_params
    timezone = account.timezone if account is not None and account.timezone else "UTC"
    return resolve(query.get("range"), query.get("from"), query.get("to"), now=container.clock.now(), timezone=timezone)
