"""Dependencies of the web pages: the logged-in actor from the session cookie, role gates, CSRF-checked forms."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import Depends, Request

from multibuzz.auth.tokens import InvalidTokenError, decode_access_token
from multibuzz.db.models import Account
from multibuzz.errors import AuthenticationError, MultibuzzError, PermissionDeniedError
from multibuzz.http.deps import ContainerDep, SessionDep, TenancyDep
from multibuzz.http.readers import Reader
from multibuzz.services.context import Actor
from multibuzz.web.security import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, csrf_valid

MAX_FORM_BYTES = 64 * 1024


class LoginRequiredError(AuthenticationError):
    """No valid session: the page answers a redirect to the login page with ``?next=`` this page."""

    def __init__(self, next_path: str, reason: str = "log in to continue") -> None:
        super().__init__(reason)
        self.next_path = next_path


class CsrfError(MultibuzzError):
    status = 403
    code = "csrf_failed"


def login_url(next_path: str) -> str:
    return "/app/login?next=" + quote(next_path, safe="/")


def _page_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _referer_path(request: Request) -> str:
    """After a POST with an expired session: back to the page the form was on (checked by safe_next later)."""
    parts = urlsplit(request.headers.get("referer", ""))
    if parts.netloc and parts.netloc != request.url.netloc:
        return "/app"
    return (parts.path or "/app") + (f"?{parts.query}" if parts.query else "")


def web_actor(request: Request, tenancy: TenancyDep, container: ContainerDep) -> Actor:
    """The actor of the session cookie; an expired or missing session → the login page, this page remembered."""
    token = request.cookies.get(SESSION_COOKIE)
    back = _page_path(request) if request.method == "GET" else _referer_path(request)
    if not token:
        raise LoginRequiredError(back)
    try:
        claims = decode_access_token(
            token, secret=container.settings.jwt_secret.get_secret_value(), now=container.clock.now()
        )
        actor = tenancy.resolve_actor(claims)
    except (InvalidTokenError, AuthenticationError) as exc:
        raise LoginRequiredError(back, "your session expired: log in again") from exc
    request.state.actor = actor
    return actor


WebActor = Annotated[Actor, Depends(web_actor)]


def advertiser(actor: WebActor) -> Actor:
    """Owners, members and platform admins inside an account; influencer users get 403."""
    if actor.role == "influencer" and not actor.is_platform_admin:
        raise PermissionDeniedError("influencer logins see only their own dashboard")
    if actor.account_id is None:
        raise PermissionDeniedError("no account selected: platform admins open an account from the Admin page")
    return actor


Advertiser = Annotated[Actor, Depends(advertiser)]


def owner(actor: Advertiser) -> Actor:
    if not actor.is_owner:
        raise PermissionDeniedError("only account owners can change this")
    return actor


Owner = Annotated[Actor, Depends(owner)]


def influencer_user(actor: WebActor) -> Actor:
    if actor.role != "influencer" or actor.influencer_id is None:
        raise PermissionDeniedError("this dashboard is for influencer logins")
    return actor


InfluencerUser = Annotated[Actor, Depends(influencer_user)]


def platform_admin(actor: WebActor) -> Actor:
    if not actor.is_platform_admin:
        raise PermissionDeniedError("platform admins only")
    return actor


PlatformAdmin = Annotated[Actor, Depends(platform_admin)]


def reader_of(actor: Actor) -> Reader:
    """The JSON API's reader for this actor (influencer users see only their influencer's rows)."""
    assert actor.account_id is not None
    return Reader(actor.account_id, actor.influencer_id if actor.role == "influencer" else None, actor.can_write)


def account_of(session: SessionDep, actor: Actor) -> Account | None:
    return session.get(Account, actor.account_id) if actor.account_id else None


async def csrf_form(request: Request, container: ContainerDep) -> dict[str, str]:
    """The url-encoded form of a POST, refused (403) unless it carries this browser's CSRF token."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfError("form too large")
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not csrf_valid(container.settings.jwt_secret.get_secret_value(), request.cookies.get(CSRF_COOKIE), sent):
        raise CsrfError("the form's security token is missing or stale: reload the page and try again")
    return form


Form = Annotated[dict[str, str], Depends(csrf_form)]
