"""Invitations: the only way a user becomes a member of an account, and only with their consent.

An owner invites an e-mail address with a role. The answer is the same whether or not a
user has that address (no user id, no name), so it cannot be used to enumerate the
platform's users. A one-time token goes to the invitee through the outbox (and, where
settings allow, back to the inviter once). The invitee accepts with the token:

- an address nobody uses yet: the acceptance sets the new user's password (and name);
- an existing user: only while logged in as that very user (their own access token).

Tokens are stored as SHA-256 digests, expire, and are used once. Owners list and revoke
pending invitations. Password resets use the same token and outbox machinery.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from multibuzz.adapters.outbox import Outbox, OutboxMessage
from multibuzz.clock import Clock
from multibuzz.db.models import Invitation, LoginThrottle, Membership, PasswordReset, User
from multibuzz.db.models.influencer import Influencer
from multibuzz.errors import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from multibuzz.ids import IdGenerator
from multibuzz.services.context import ROLES, Actor
from multibuzz.services.login_throttle import email_key
from multibuzz.services.tenancy import Tenancy

INVITATION_PREFIX = "inv_tok_"
RESET_PREFIX = "pwr_tok_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Accepted:
    user: User
    membership: Membership
    created_user: bool


@dataclass
class Invitations:
    session: Session
    clock: Clock
    ids: IdGenerator
    outbox: Outbox
    tenancy: Tenancy
    ttl: timedelta
    base_url: str = ""

    def invite(
        self,
        actor: Actor,
        account_id: str,
        *,
        email: str,
        role: str,
        influencer_id: str | None = None,
    ) -> tuple[Invitation, str]:
        """A pending invitation and its one-time token. Same answer whether or not the address has a user."""
        if role not in ROLES:
            raise InvalidInputError(f"role must be one of {', '.join(ROLES)}", field="role")
        self.tenancy._require_owner(actor, account_id)
        if role == "influencer":
            if not influencer_id:
                raise InvalidInputError("influencer_id is required for role influencer", field="influencer_id")
            found = self.session.scalar(
                select(Influencer.id).where(Influencer.id == influencer_id, Influencer.account_id == account_id)
            )
            if found is None:
                raise InvalidInputError("influencer_id is not an influencer of this account", field="influencer_id")
        elif influencer_id is not None:
            raise InvalidInputError("influencer_id is only for role influencer", field="influencer_id")
        now = self.clock.now()
        token = new_token(INVITATION_PREFIX)
        invitation = Invitation(
            id=self.ids.new("inv"),
            account_id=account_id,
            email=email.strip().lower(),
            role=role,
            influencer_id=influencer_id,
            token_digest=token_digest(token),
            invited_by=actor.user_id,
            created_at=now,
            expires_at=now + self.ttl,
        )
        self.session.add(invitation)
        self.session.flush()
        self.outbox.send(
            OutboxMessage(
                id=invitation.id,
                kind="invitation",
                to=invitation.email,
                subject="You are invited to a Multibuzz account",
                body=(
                    f"You were invited as {role}. Accept with POST {self.base_url}/api/v1/invitations/accept "
                    f'{{"token": "…"}} before {invitation.expires_at.isoformat()}.'
                ),
                token=token,
                created_at=now,
            )
        )
        return invitation, token

    def list(self, actor: Actor, account_id: str, *, include_closed: bool = False) -> list[Invitation]:
        self.tenancy._require_owner(actor, account_id)
        query = select(Invitation).where(Invitation.account_id == account_id)
        if not include_closed:
            query = query.where(
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > self.clock.now(),
            )
        return list(self.session.scalars(query.order_by(Invitation.created_at.desc(), Invitation.id)))

    def revoke(self, actor: Actor, account_id: str, invitation_id: str) -> Invitation:
        self.tenancy._require_owner(actor, account_id)
        invitation = self.session.get(Invitation, invitation_id)
        if invitation is None or invitation.account_id != account_id:
            raise NotFoundError("invitation not found")
        if invitation.accepted_at is not None:
            raise ConflictError("the invitation was already accepted; remove the member instead")
        if invitation.revoked_at is None:
            invitation.revoked_at = self.clock.now()
            self.session.flush()
        return invitation

    def _open(self, token: str) -> Invitation:
        now = self.clock.now()
        invitation = self.session.scalar(
            select(Invitation).where(Invitation.token_digest == token_digest(token)).with_for_update()
        )
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.revoked_at is not None
            or invitation.expires_at <= now
        ):
            raise InvalidInputError(
                "the invitation token is not valid (unknown, used, revoked or expired)", field="token"
            )
        return invitation

    def accept(self, token: str, *, actor: Actor | None, password: str | None, name: str = "") -> Accepted:
        invitation = self._open(token)
        user = self.session.scalar(select(User).where(User.email == invitation.email))
        created = False
        if actor is not None:
            if user is None or actor.user_id != user.id:
                raise InvalidInputError("this invitation is for another e-mail address", field="token")
        elif user is None:
            if not password:
                raise InvalidInputError("password is required to create your user", field="password")
            user = self.tenancy.create_user(email=invitation.email, password=password, name=name)
            created = True
        else:
            raise AuthenticationError("log in as the invited user, then accept with your own access token")
        if not user.is_active:
            raise AuthenticationError("user is deactivated")
        membership = self.tenancy.add_membership(
            invitation.account_id, user, role=invitation.role, influencer_id=invitation.influencer_id
        )
        invitation.accepted_at = self.clock.now()
        invitation.accepted_by = user.id
        self.session.flush()
        return Accepted(user, membership, created)


@dataclass
class PasswordResets:
    session: Session
    clock: Clock
    ids: IdGenerator
    outbox: Outbox
    tenancy: Tenancy
    ttl: timedelta
    base_url: str = ""

    def request(self, email: str) -> None:
        """Send a reset token if an active user has ``email``; the caller answers the same either way."""
        user = self.session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or not user.is_active:
            return
        now = self.clock.now()
        token = new_token(RESET_PREFIX)
        reset = PasswordReset(
            id=self.ids.new("pwr"),
            user_id=user.id,
            token_digest=token_digest(token),
            created_at=now,
            expires_at=now + self.ttl,
        )
        self.session.add(reset)
        self.session.flush()
        self.outbox.send(
            OutboxMessage(
                id=reset.id,
                kind="password_reset",
                to=user.email,
                subject="Reset your Multibuzz password",
                body=(
                    f"Set a new password with POST {self.base_url}/api/v1/auth/password-reset/confirm "
                    f'{{"token": "…", "password": "…"}} before {reset.expires_at.isoformat()}.'
                ),
                token=token,
                created_at=now,
            )
        )

    def confirm(self, token: str, password: str) -> User:
        now = self.clock.now()
        reset = self.session.scalar(
            select(PasswordReset).where(PasswordReset.token_digest == token_digest(token)).with_for_update()
        )
        if reset is None or reset.used_at is not None or reset.expires_at <= now:
            raise InvalidInputError("the reset token is not valid (unknown, used or expired)", field="token")
        user = self.session.get(User, reset.user_id)
        if user is None or not user.is_active:
            raise InvalidInputError("the reset token is not valid (unknown, used or expired)", field="token")
        self.tenancy.set_password(user, password)
        # A reset proves control of the address: its failed-login counter starts again (never the IP's).
        self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == email_key(user.email)))
        # This token and every other open one of the user are spent.
        self.session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        self.session.flush()
        return user
