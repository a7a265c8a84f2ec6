"""Privacy requests: erasures (queued) and access requests (answered with the document).

Who may file them: an account owner (JWT), or the advertiser's backend with an API key that has the
``privacy`` scope. Members and influencers may not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from multibuzz.db.models import PrivacyRequest
from multibuzz.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from multibuzz.http.deps import ContainerDep, SessionDep, TenancyDep, current_actor, require_scope
from multibuzz.http.readers import _sent_api_key
from multibuzz.privacy.access import access_document
from multibuzz.privacy.erasure import request_erasure
from multibuzz.privacy.subjects import SubjectRef, SubjectType

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


@dataclass(frozen=True, slots=True)
class Requester:
    account_id: str
    who: str  # "user:usr_…" | "key:key_…" (the audit trail's requested_by)


def privacy_requester(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Requester:
    """An owner of the account (JWT), or an API key with the ``privacy`` scope."""
    key = _sent_api_key(request)
    if key is not None:
        principal = require_scope(tenancy.authenticate_key(key), "privacy")
        return Requester(principal.account_id, f"key:{principal.api_key_id}")
    actor = current_actor(request, tenancy, container)
    if actor.account_id is None:
        raise PermissionDeniedError("log in with an account_id to file privacy requests")
    if not actor.is_owner:
        raise PermissionDeniedError("only an account owner may file privacy requests")
    return Requester(actor.account_id, f"user:{actor.user_id}")


RequesterDep = Annotated[Requester, Depends(privacy_requester)]

Text255 = Annotated[str, Field(min_length=1, max_length=255)]


class SubjectIn(BaseModel):
    """Exactly one of ``visitor_id``, ``user_id`` or ``email``. ``ips`` and ``user_agents``, when known,
    also find the subject's tracking-link clicks (a click holds no visitor id, only a keyed hash of the
    full IP and user agent)."""

    model_config = {"extra": "forbid", "str_strip_whitespace": True}

    visitor_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    user_id: Text255 | None = None
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    ips: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=20)
    user_agents: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(default_factory=list, max_length=20)

    def ref(self) -> SubjectRef:
        given: tuple[tuple[SubjectType, str | None], ...] = (
            ("visitor_id", self.visitor_id),
            ("user_id", self.user_id),
            ("email", self.email),
        )
        named = [(kind, value) for kind, value in given if value is not None]
        if len(named) != 1:
            raise InvalidInputError("name exactly one of visitor_id, user_id or email", field="visitor_id")
        kind, value = named[0]
        return SubjectRef(kind, value, tuple(self.ips), tuple(self.user_agents))


class ErasureOut(BaseModel):
    id: str
    status: Literal["pending", "running", "completed", "failed"]
    subject_type: str
    counts: dict[str, dict[str, int]] = Field(description="rows deleted/anonymised per table")
    attempts: int
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, record: PrivacyRequest) -> ErasureOut:
        return cls(
            id=record.id,
            status=record.status,
            subject_type=record.subject_type,
            counts=record.counts or {},
            attempts=record.attempts or 0,
            created_at=record.created_at,
            completed_at=record.completed_at,
        )


class AccessDocumentOut(BaseModel):
    id: str
    account_id: str
    subject_type: str
    generated_at: datetime
    counts: dict[str, dict[str, int]]
    tables: dict[str, list[dict[str, Any]]] = Field(description="every stored row about the subject, per table")


@router.post(
    "/erasures",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ErasureOut,
    summary="Erase a data subject (queued): their rows are deleted or anonymised; revenue and credits stay",
)
def create_erasure(
    body: SubjectIn, requester: RequesterDep, session: SessionDep, container: ContainerDep
) -> ErasureOut:
    request_id = request_erasure(container, requester.account_id, body.ref(), requester.who)
    record = session.get(PrivacyRequest, request_id)
    assert record is not None
    return ErasureOut.of(record)


@router.get("/erasures/{erasure_id}", response_model=ErasureOut, summary="An erasure's status and counts per table")
def get_erasure(
    erasure_id: Annotated[str, Path(max_length=40)], requester: RequesterDep, session: SessionDep
) -> ErasureOut:
    record = session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.id == erasure_id,
            PrivacyRequest.account_id == requester.account_id,
            PrivacyRequest.kind == "erasure",
        )
    )
    if record is None:
        raise NotFoundError("Erasure not found")
    return ErasureOut.of(record)


@router.post(
    "/access-requests",
    response_model=AccessDocumentOut,
    summary="Everything stored about a data subject, as one JSON document",
)
def create_access_request(body: SubjectIn, requester: RequesterDep, container: ContainerDep) -> dict[str, Any]:
    return access_document(container, requester.account_id, body.ref(), requester.who)
