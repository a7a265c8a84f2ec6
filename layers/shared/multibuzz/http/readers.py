"""Who may read account data: a logged-in user of the account, or the account's API key (SDK reads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from multibuzz.auth.api_keys import looks_like_key
from multibuzz.errors import PermissionDeniedError
from multibuzz.http.deps import ContainerDep, TenancyDep, bearer_token, current_actor


@dataclass(frozen=True, slots=True)
class Reader:
    account_id: str
    influencer_id: str | None  # set for influencer users: they see only their influencer's rows
    can_write: bool


def account_reader(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Reader:
    token = bearer_token(request)
    if looks_like_key(token):
        principal = tenancy.authenticate_key(token)
        return Reader(principal.account_id, None, True)
    actor = current_actor(request, tenancy, container)
    if actor.account_id is None:
        raise PermissionDeniedError("log in with an account_id to read account data")
    return Reader(actor.account_id, actor.influencer_id if actor.role == "influencer" else None, actor.can_write)


AccountReader = Annotated[Reader, Depends(account_reader)]
