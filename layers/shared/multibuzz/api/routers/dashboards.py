"""Dashboards: KPI cards and a daily series per day of the account's time zone, from the derived tables.

``/dashboard/home`` (revenue beside spend: ROAS, MER), ``/dashboard/shopify`` (orders and revenue),
``/dashboard/meta`` (spend, platform ROAS, and per Meta campaign the revenue Multibuzz attributes to its
traffic under each model). Amounts are strings in the account's currency; the zone and currency are in
every answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from multibuzz.commerce import dashboards
from multibuzz.http.deps import ContainerDep, SessionDep
from multibuzz.http.readers import AccountReader

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboards"])

From = Annotated[
    dt.date | None, Query(alias="from", description="First day (account time zone); default: 29 days before `to`")
]
To = Annotated[dt.date | None, Query(alias="to", description="Last day, inclusive (account time zone); default: today")]


class DashboardOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    kind: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    timezone: str = Field(description="IANA zone the days are counted in")
    currency: str = Field(description="ISO 4217 currency of every amount (amounts are decimal strings)")
    kpis: dict[str, Any]
    series: list[dict[str, Any]] = Field(description="one entry per day of the range, zeros where nothing happened")


class HomeDashboardOut(DashboardOut):
    latest: dict[str, dict[str, Any]] = Field(
        description="the precomputed cards (`today`, `last_7d`, `last_30d`, ending today) as of the last rebuild"
    )


class MetaDashboardOut(DashboardOut):
    campaigns: list[dict[str, Any]] = Field(
        description="per Meta campaign: spend, Meta's purchase value and ROAS, and `attributed` — per model the "
        "revenue Multibuzz credits to the campaign's traffic (utm_id = campaign id, else utm_campaign = name) "
        "and that ROAS"
    )


def _out(model: type[DashboardOut], data: dict[str, Any]) -> Any:
    return model.model_validate(data).model_dump(by_alias=True, mode="json")


@router.get("/home", response_model=HomeDashboardOut, response_model_by_alias=True)
def home_dashboard(
    reader: AccountReader, session: SessionDep, container: ContainerDep, since: From = None, until: To = None
) -> Any:
    return _out(HomeDashboardOut, dashboards.home(session, reader.account_id, container.clock.now(), since, until))


@router.get("/shopify", response_model=DashboardOut, response_model_by_alias=True)
def shopify_dashboard(
    reader: AccountReader, session: SessionDep, container: ContainerDep, since: From = None, until: To = None
) -> Any:
    return _out(DashboardOut, dashboards.shopify(session, reader.account_id, container.clock.now(), since, until))


@router.get("/meta", response_model=MetaDashboardOut, response_model_by_alias=True)
def meta_dashboard(
    reader: AccountReader, session: SessionDep, container: ContainerDep, since: From = None, until: To = None
) -> Any:
    return _out(MetaDashboardOut, dashboards.meta(session, reader.account_id, container.clock.now(), since, until))
