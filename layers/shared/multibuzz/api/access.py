"""Dependencies for the access routes: invitations, password resets and the login throttle."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends

from multibuzz.api.schemas import InvitationCreatedOut, InvitationOut
from multibuzz.db.models import Invitation
from multibuzz.http.deps import ContainerDep, SessionDep, TenancyDep
from multibuzz.services.invitations import Invitations, PasswordResets
from multibuzz.services.login_throttle import LoginThrottle


def invitations_dep(session: SessionDep, container: ContainerDep, tenancy: TenancyDep) -> Invitations:
    return Invitations(
        session,
        container.clock,
        container.ids,
        container.outbox,
        tenancy,
        timedelta(hours=container.settings.invitation_ttl_hours),
        container.settings.base_url,
    )


def resets_dep(session: SessionDep, container: ContainerDep, tenancy: TenancyDep) -> PasswordResets:
    return PasswordResets(
        session,
        container.clock,
        container.ids,
        container.outbox,
        tenancy,
        timedelta(minutes=container.settings.password_reset_ttl_minutes),
        container.settings.base_url,
    )


def throttle_dep(container: ContainerDep) -> LoginThrottle:
    settings = container.settings
    return LoginThrottle(
        container.session_factory,
        container.clock,
        settings.login_max_failures_per_email,
        settings.login_max_failures_per_ip,
        timedelta(seconds=settings.login_throttle_window_seconds),
    )


InvitationsDep = Annotated[Invitations, Depends(invitations_dep)]
ResetsDep = Annotated[PasswordResets, Depends(resets_dep)]
ThrottleDep = Annotated[LoginThrottle, Depends(throttle_dep)]


def invitation_out(invitation: Invitation, now: datetime) -> InvitationOut:
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        influencer_id=invitation.influencer_id,
        status=invitation.status_at(now),
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
    )


def invitation_created(invitation: Invitation, token: str, container: ContainerDep) -> InvitationCreatedOut:
    shown = token if container.settings.invitation_tokens_in_responses else None
    out = invitation_out(invitation, container.clock.now())
    return InvitationCreatedOut(**out.model_dump(), token=shown)
