from __future__ import annotations

from fastapi import APIRouter, status

from multibuzz.api.schemas import AccountIn, AccountOut, AccountSettingsIn, MemberIn, MemberOut
from multibuzz.http.deps import AccountActor, CurrentActor, TenancyDep

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


@router.post("/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED, tags=["members"])
def add_member(body: MemberIn, actor: AccountActor, tenancy: TenancyDep) -> MemberOut:
    assert actor.account_id is not None
    user, membership = tenancy.add_member(
        actor,
        actor.account_id,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
        influencer_id=body.influencer_id,
    )
    return MemberOut.of(user, membership)


@router.delete("/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["members"])
def remove_member(user_id: str, actor: AccountActor, tenancy: TenancyDep) -> None:
    assert actor.account_id is not None
    tenancy.remove_member(actor, actor.account_id, user_id)
