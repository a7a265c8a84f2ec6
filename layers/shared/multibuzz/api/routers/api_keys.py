from __future__ import annotations

from fastapi import APIRouter, status

from multibuzz.api.schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut
from multibuzz.db.models import ApiKey
from multibuzz.http.deps import AccountActor, TenancyDep

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"])


def _out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        environment=key.environment,
        display_hint=key.display_hint,
        has_signing_secret=key.signing_secret_encrypted is not None,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        rotated_to_id=key.rotated_to_id,
        scopes=key.scopes.split(),
    )


def _created(key: ApiKey, plaintext: str, signing: str | None) -> ApiKeyCreatedOut:
    return ApiKeyCreatedOut(**_out(key).model_dump(), key=plaintext, signing_secret=signing)


@router.post("", response_model=ApiKeyCreatedOut, status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyIn, actor: AccountActor, tenancy: TenancyDep) -> ApiKeyCreatedOut:
    assert actor.account_id is not None
    key, plaintext, signing = tenancy.create_api_key(
        actor,
        actor.account_id,
        name=body.name,
        environment=body.environment,
        with_signing_secret=body.with_signing_secret,
        scopes=tuple(body.scopes),
    )
    return _created(key, plaintext, signing)


@router.get("", response_model=list[ApiKeyOut])
def list_keys(actor: AccountActor, tenancy: TenancyDep) -> list[ApiKeyOut]:
    assert actor.account_id is not None
    return [_out(k) for k in tenancy.list_api_keys(actor, actor.account_id)]


@router.post("/{key_id}/rotate", response_model=ApiKeyCreatedOut, status_code=status.HTTP_201_CREATED)
def rotate_key(key_id: str, actor: AccountActor, tenancy: TenancyDep) -> ApiKeyCreatedOut:
    assert actor.account_id is not None
    key, plaintext, signing = tenancy.rotate_api_key(actor, actor.account_id, key_id)
    return _created(key, plaintext, signing)


@router.post("/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_key(key_id: str, actor: AccountActor, tenancy: TenancyDep) -> ApiKeyOut:
    assert actor.account_id is not None
    return _out(tenancy.revoke_api_key(actor, actor.account_id, key_id))


@router.delete("/{key_id}", response_model=ApiKeyOut)
def delete_key(key_id: str, actor: AccountActor, tenancy: TenancyDep) -> ApiKeyOut:
    """Same as revoke: keys are kept (revoked) for the audit trail."""
    assert actor.account_id is not None
    return _out(tenancy.revoke_api_key(actor, actor.account_id, key_id))
