from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, status

from multibuzz.api.access import ResetsDep, ThrottleDep
from multibuzz.api.schemas import (
    LoginIn,
    MeOut,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    StatusOut,
    TokenOut,
)
from multibuzz.errors import AuthenticationError
from multibuzz.http.deps import ContainerDep, CurrentActor, TenancyDep
from multibuzz.services.tenancy import BadCredentialsError

router = APIRouter(prefix="/api/v1", tags=["auth"])

RESET_ANSWER = "if an account uses that address, a reset token was sent to it"


def client_ip(request: Request) -> str | None:
    """API Gateway's source IP (the local gateway sets it the same way)."""
    return request.client.host if request.client else None


@router.post(
    "/auth/login",
    response_model=TokenOut,
    summary="Log in; failed attempts are throttled per e-mail and per IP (429 with Retry-After)",
)
def login(
    body: LoginIn, request: Request, tenancy: TenancyDep, container: ContainerDep, throttle: ThrottleDep
) -> TokenOut:
    ip = client_ip(request)
    throttle.attempt(body.email, ip)  # counted first, the same for addresses that exist and those that do not
    expires = timedelta(minutes=container.settings.jwt_expiry_minutes)
    try:
        token, _user, account_id = tenancy.login(
            body.email,
            body.password,
            jwt_secret=container.settings.jwt_secret.get_secret_value(),
            expires_in=expires,
            account_id=body.account_id,
        )
    except BadCredentialsError:
        raise
    except AuthenticationError:  # the password was right (e.g. not a member of that account)
        throttle.succeeded(body.email, ip)
        raise
    throttle.succeeded(body.email, ip)
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


@router.post(
    "/auth/password",
    response_model=TokenOut,
    summary="Change your own password; every token issued before stops working, a fresh one is returned",
)
def change_password(
    body: PasswordChangeIn, actor: CurrentActor, tenancy: TenancyDep, container: ContainerDep
) -> TokenOut:
    user = tenancy.change_password(actor, body.current_password, body.new_password)
    expires = timedelta(minutes=container.settings.jwt_expiry_minutes)
    token = tenancy.issue_token(
        user, actor.account_id, jwt_secret=container.settings.jwt_secret.get_secret_value(), expires_in=expires
    )
    return TokenOut(access_token=token, expires_in=int(expires.total_seconds()), account_id=actor.account_id)


@router.post(
    "/auth/password-reset",
    response_model=StatusOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for a one-time reset token (sent through the outbox); the same answer whatever the address",
)
def request_password_reset(body: PasswordResetIn, resets: ResetsDep) -> StatusOut:
    resets.request(body.email)
    return StatusOut(status=RESET_ANSWER)


@router.post(
    "/auth/password-reset/confirm",
    response_model=StatusOut,
    summary="Set a new password with a reset token; every older access token stops working",
)
def confirm_password_reset(body: PasswordResetConfirmIn, resets: ResetsDep) -> StatusOut:
    resets.confirm(body.token, body.password)
    return StatusOut(status="password changed; log in with the new password")
