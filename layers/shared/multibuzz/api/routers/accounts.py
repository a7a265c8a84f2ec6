from __future__ import annotations

from fastapi import APIRouter, status

from multibuzz.api.access import InvitationsDep, invitation_created, invitation_out
from multibuzz.api.schemas import (
    AcceptedOut,
    AcceptIn,
    AccountIn,
    AccountOut,
    AccountSettingsIn,
    InvitationCreatedOut,
    InvitationOut,
    MemberIn,
    MemberOut,
)
from multibuzz.http.deps import AccountActor, ContainerDep, CurrentActor, OptionalActor, TenancyDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/accounts", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
def create_account(body: AccountIn, actor: CurrentActor, tenancy: TenancyDep) -> AccountOut:
    return AccountOut.model_validate(tenancy.create_account(actor, body.name, body.slug))


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(actor: CurrentActor, tenancy: TenancyDep) -> list[AccountOut]:
    return [AccountOut.model_validate(a) for a in tenancy.list_accounts(actor)]


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(account_id: str, actor: CurrentActor, tenancy: TenancyDep) -> AccountOut:
    return AccountOut.model_validate(tenancy.get_account(actor, account_id))


@router.patch("/accounts/{account_id}/settings", response_model=AccountOut)
def update_settings(account_id: str, body: AccountSettingsIn, actor: CurrentActor, tenancy: TenancyDep) -> AccountOut:
    changes = body.model_dump(exclude_none=True)
    return AccountOut.model_validate(tenancy.update_account_settings(actor, account_id, changes))


@router.post("/accounts/{account_id}/deactivate", response_model=AccountOut)
def deactivate(account_id: str, actor: CurrentActor, tenancy: TenancyDep) -> AccountOut:
    return AccountOut.model_validate(tenancy.set_account_status(actor, account_id, active=False))


@router.post("/accounts/{account_id}/activate", response_model=AccountOut)
def activate(account_id: str, actor: CurrentActor, tenancy: TenancyDep) -> AccountOut:
    return AccountOut.model_validate(tenancy.set_account_status(actor, account_id, active=True))


@router.get("/members", response_model=list[MemberOut], tags=["members"])
def list_members(actor: AccountActor, tenancy: TenancyDep) -> list[MemberOut]:
    assert actor.account_id is not None
    return [MemberOut.of(user, membership) for user, membership in tenancy.list_members(actor, actor.account_id)]


@router.post(
    "/members",
    response_model=InvitationCreatedOut,
    status_code=status.HTTP_201_CREATED,
    tags=["members"],
    summary="Invite someone (owners): they become a member only when they accept",
)
def invite_member(
    body: MemberIn, actor: AccountActor, invitations: InvitationsDep, container: ContainerDep
) -> InvitationCreatedOut:
    assert actor.account_id is not None
    invitation, token = invitations.invite(
        actor, actor.account_id, email=body.email, role=body.role, influencer_id=body.influencer_id
    )
    return invitation_created(invitation, token, container)


@router.get("/invitations", response_model=list[InvitationOut], tags=["members"])
def list_invitations(
    actor: AccountActor, invitations: InvitationsDep, include_closed: bool = False
) -> list[InvitationOut]:
    """Pending invitations; with ``include_closed`` also accepted, revoked and expired ones."""
    assert actor.account_id is not None
    now = invitations.clock.now()
    return [invitation_out(i, now) for i in invitations.list(actor, actor.account_id, include_closed=include_closed)]


@router.delete("/invitations/{invitation_id}", response_model=InvitationOut, tags=["members"])
def revoke_invitation(invitation_id: str, actor: AccountActor, invitations: InvitationsDep) -> InvitationOut:
    assert actor.account_id is not None
    return invitation_out(invitations.revoke(actor, actor.account_id, invitation_id), invitations.clock.now())


@router.post(
    "/invitations/accept",
    response_model=AcceptedOut,
    status_code=status.HTTP_201_CREATED,
    tags=["members"],
    summary="Accept an invitation: a new address sets its password; an existing user sends their own token",
)
def accept_invitation(body: AcceptIn, actor: OptionalActor, invitations: InvitationsDep) -> AcceptedOut:
    accepted = invitations.accept(body.token, actor=actor, password=body.password, name=body.name)
    return AcceptedOut(
        user_id=accepted.user.id,
        email=accepted.user.email,
        account_id=accepted.membership.account_id,
        role=accepted.membership.role,
        influencer_id=accepted.membership.influencer_id,
        created_user=accepted.created_user,
    )


@router.delete("/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["members"])
def remove_member(user_id: str, actor: AccountActor, tenancy: TenancyDep) -> None:
    assert actor.account_id is not None
    tenancy.remove_member(actor, actor.account_id, user_id)
