"""Who may read account data: a logged-in user of the account; for SDK reads also an API key with ``read``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from multibuzz.auth.api_keys import looks_like_key
from multibuzz.errors import PermissionDeniedError
from multibuzz.http.deps import ContainerDep, TenancyDep, api_key_token, current_actor, require_scope


@dataclass(frozen=True, slots=True)
class Reader:
    account_id: str
    influencer_id: str | None  # set for influencer users: they see only their influencer's rows
    can_write: bool


def _user_reader(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Reader:
    actor = current_actor(request, tenancy, container)
    if actor.account_id is None:
        raise PermissionDeniedError("log in with an account_id to read account data")
    return Reader(actor.account_id, actor.influencer_id if actor.role == "influencer" else None, actor.can_write)


def _sent_api_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and looks_like_key(token.strip()):
        return token.strip()
    if not header and request.headers.get("x-api-key"):
        return api_key_token(request)
    return None


def account_reader(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Reader:
    """Reports, listings and refits: a logged-in user only (JWT). API keys are refused whatever their scopes."""
    if _sent_api_key(request) is not None:
        raise PermissionDeniedError("API keys cannot call this route: log in (JWT) to read reports")
    return _user_reader(request, tenancy, container)


def sdk_reader(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Reader:
    """A logged-in user, or an API key with the ``read`` scope (an SDK fetching one conversion's attribution)."""
    key = _sent_api_key(request)
    if key is not None:
        principal = require_scope(tenancy.authenticate_key(key), "read")
        return Reader(principal.account_id, None, False)
    return _user_reader(request, tenancy, container)


AccountReader = Annotated[Reader, Depends(account_reader)]
SdkReader = Annotated[Reader, Depends(sdk_reader)]
