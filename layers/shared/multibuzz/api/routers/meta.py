"""Connect a Meta ad account (owners): the token is verified with Meta and stored encrypted."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from multibuzz.commerce.jobs import request_sync
from multibuzz.commerce.meta.sync import MetaSync
from multibuzz.db.models import Account
from multibuzz.db.models.commerce import Integration
from multibuzz.errors import PermissionDeniedError
from multibuzz.http.deps import AccountActor, ContainerDep, SessionDep
from multibuzz.http.openapi import ErrorBody

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])


class MetaConnectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ad_account_id: str = Field(
        min_length=1, max_length=30, pattern=r"^(act_)?[0-9]{1,20}$", examples=["act_1234567890"]
    )
    access_token: str = Field(
        min_length=10,
        max_length=2000,
        pattern=r"^[A-Za-z0-9_.|-]+$",
        description="A Marketing API token with ads_read; stored encrypted, never returned",
    )


class MetaIntegrationOut(BaseModel):
    id: str
    type: str
    status: str
    external_id: str = Field(description="act_<id>")
    display_name: str | None
    currency: str | None
    timezone: str | None
    connected_at: datetime | None
    warnings: list[str] = Field(default_factory=list, description="things to know, e.g. a different time zone")
    next_sync: str = Field(description="what runs next: the first fill (meta_7d_fill), queued by the connection itself")

    @classmethod
    def of(cls, row: Integration, account_zone: str | None = None) -> MetaIntegrationOut:
        config = row.config or {}
        return cls(
            id=row.id,
            type=row.type,
            status=row.status,
            external_id=row.external_id,
            display_name=row.display_name,
            currency=config.get("currency"),
            timezone=config.get("timezone"),
            connected_at=row.connected_at,
            warnings=_zone_warning(config.get("timezone"), account_zone),
            next_sync="meta_7d_fill",
        )


def _zone_warning(ad_zone: str | None, account_zone: str | None) -> list[str]:
    if not ad_zone or not account_zone or ad_zone == account_zone:
        return []
    return [
        f"Meta reports this ad account's days in {ad_zone} and this account counts days in {account_zone}: "
        "spend is shown on Meta's days, which do not line up exactly with the account's"
    ]


@router.post(
    "/meta",
    response_model=MetaIntegrationOut,
    status_code=status.HTTP_201_CREATED,
    responses={503: {"model": ErrorBody, "description": "Meta could not be reached or is throttling; retry later"}},
    summary="Connect a Meta ad account (owners): verified with Meta; a currency other than the account's is refused",
)
def connect_meta(
    body: MetaConnectIn, actor: AccountActor, session: SessionDep, container: ContainerDep
) -> MetaIntegrationOut:
    if not actor.is_owner:
        raise PermissionDeniedError("only an owner can connect an ad account")
    assert actor.account_id is not None
    integration = MetaSync.from_container(container).connect(
        session, actor.account_id, body.ad_account_id, body.access_token
    )
    account = session.get_one(Account, actor.account_id)
    out = MetaIntegrationOut.of(integration, account.timezone)
    session.commit()  # the queued run must find the integration and its token
    request_sync(container, integration, "meta_7d_fill", "connect")  # as Shopify's connect does
    return out
