"""Typed FastAPI dependencies: the container, a DB session per request, the acting user or key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from multibuzz.auth.tokens import InvalidTokenError, decode_access_token
from multibuzz.bootstrap import Container, get_container
from multibuzz.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from multibuzz.services.context import Actor, KeyPrincipal
from multibuzz.services.tenancy import Tenancy


async def container_dep() -> Container:  # async: no thread-pool hop for a global
    return get_container()


ContainerDep = Annotated[Container, Depends(container_dep)]


def db_session(container: ContainerDep) -> Iterator[Session]:
    session = container.session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(db_session)]


def tenancy_dep(session: SessionDep, container: ContainerDep) -> Tenancy:
    return Tenancy(session, container.clock, container.ids, container.secret_box)


TenancyDep = Annotated[Tenancy, Depends(tenancy_dep)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("missing bearer token")
    return token.strip()


def current_actor(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Actor:
    token = bearer_token(request)
    try:
        claims = decode_access_token(
            token, secret=container.settings.jwt_secret.get_secret_value(), now=container.clock.now()
        )
    except InvalidTokenError as exc:
        raise AuthenticationError("invalid or expired access token") from exc
    return tenancy.resolve_actor(claims)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def optional_actor(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Actor | None:
    """The logged-in user when an Authorization header is sent (it must then be valid), else None."""
    if not request.headers.get("authorization"):
        return None
    return current_actor(request, tenancy, container)


OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def account_actor(actor: CurrentActor) -> Actor:
    """An actor acting inside an account (the one the token was issued for)."""
    if actor.account_id is None:
        raise NotFoundError("no account selected: log in with an account_id")
    return actor


AccountActor = Annotated[Actor, Depends(account_actor)]


def writer_actor(actor: AccountActor) -> Actor:
    if not actor.can_write:
        raise PermissionDeniedError("read-only role")
    return actor


WriterActor = Annotated[Actor, Depends(writer_actor)]


def api_key_token(request: Request) -> str:
    """The API key: ``Authorization: Bearer sk_…``, or the influencer seed's ``X-API-KEY: sk_…`` header."""
    if request.headers.get("authorization"):
        return bearer_token(request)
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        raise AuthenticationError("missing API key (Authorization: Bearer sk_… or X-API-KEY: sk_…)")
    return key


def require_scope(principal: KeyPrincipal, scope: str) -> KeyPrincipal:
    if scope not in principal.scopes:
        raise PermissionDeniedError(f"this API key lacks the {scope!r} scope")
    return principal


async def api_key_principal(request: Request, container: ContainerDep) -> KeyPrincipal:
    """An API key with the ``ingest`` scope: the ingestion routes (and /validate).

    Answered from the container's key cache when fresh; async, so no thread-pool hop on the hot path."""
    return require_scope(authenticate_api_key(container, api_key_token(request)), "ingest")


def authenticate_api_key(container: Container, plaintext: str) -> KeyPrincipal:
    """``Tenancy.authenticate_key`` behind the key cache (multibuzz.auth.key_cache: how fast revocation bites)."""

    def lookup(key: str) -> KeyPrincipal:
        with container.session() as session:
            return Tenancy(session, container.clock, container.ids, container.secret_box).authenticate_key(key)

    return container.key_cache.authenticate(plaintext, lookup)


KeyAuth = Annotated[KeyPrincipal, Depends(api_key_principal)]
