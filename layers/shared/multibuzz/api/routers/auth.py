from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from multibuzz.api.schemas import LoginIn, MeOut, TokenOut
from multibuzz.http.deps import ContainerDep, CurrentActor, TenancyDep

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=TokenOut)
def login(body: LoginIn, tenancy: TenancyDep, container: ContainerDep) -> TokenOut:
    expires = timedelta(minutes=container.settings.jwt_expiry_minutes)
    token, _user, account_id = tenancy.login(
        body.email,
        body.password,
        jwt_secret=container.settings.jwt_secret.get_secret_value(),
        expires_in=expires,
        account_id=body.account_id,
    )
    return TokenOut(access_token=token, expires_in=int(expires.total_seconds()), account_id=account_id)


@router.get("/me", response_model=MeOut)
def me(actor: CurrentActor) -> MeOut:
    return MeOut(
        user_id=actor.user_id,
        email=actor.email,
        is_platform_admin=actor.is_platform_admin,
        account_id=actor.account_id,
        role=actor.role,
        influencer_id=actor.influencer_id,
    )
