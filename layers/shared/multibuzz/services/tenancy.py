"""Accounts, users, memberships and API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from multibuzz.auth import api_keys, passwords, tokens
from multibuzz.auth.crypto import SecretBox
from multibuzz.clock import Clock
from multibuzz.db.models import Account, ApiKey, Membership, User
from multibuzz.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from multibuzz.ids import IdGenerator
from multibuzz.services.context import DEFAULT_KEY_SCOPES, KEY_SCOPES, Actor, KeyPrincipal

_SLUG_RE = re.compile(r"[^a-z0-9]+")


class BadCredentialsError(AuthenticationError):
    """A wrong password or an unknown e-mail (one message for both): what login throttling counts."""


def slugify(name: str) -> str:
    return _SLUG_RE.sub("-", name.lower()).strip("-")[:90] or "account"


@dataclass
class Tenancy:
    session: Session
    clock: Clock
    ids: IdGenerator
    secret_box: SecretBox | None = None

    # -- accounts ----------------------------------------------------------------------
    def create_account(self, actor: Actor | None, name: str, slug: str | None = None) -> Account:
        if actor is not None and not actor.is_platform_admin:
            raise PermissionDeniedError("only platform admins create accounts")
        account = Account(
            id=self.ids.new("acc"),
            name=name,
            slug=slug or slugify(name),
            status="active",
            settings={},
            created_at=self.clock.now(),
        )
        self.session.add(account)
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise ConflictError(f"an account with slug {account.slug!r} exists", field="slug") from exc
        return account

    def list_accounts(self, actor: Actor) -> list[Account]:
        query = select(Account).order_by(Account.id)
        if not actor.is_platform_admin:
            query = query.join(Membership, Membership.account_id == Account.id).where(
                Membership.user_id == actor.user_id
            )
        return list(self.session.scalars(query))

    def get_account(self, actor: Actor, account_id: str) -> Account:
        """Readable by platform admins and by members using a token issued for this very account."""
        self._require_reader(actor, account_id)
        account = self.session.get(Account, account_id)
        if account is None:
            raise NotFoundError("account not found")
        return account

    def set_account_status(self, actor: Actor, account_id: str, active: bool) -> Account:
        if not actor.is_platform_admin:
            raise PermissionDeniedError("only platform admins change account status")
        account = self.session.get(Account, account_id)
        if account is None:
            raise NotFoundError("account not found")
        account.status = "active" if active else "deactivated"
        account.deactivated_at = None if active else self.clock.now()
        self.session.flush()
        return account

    def update_account_settings(self, actor: Actor, account_id: str, changes: dict[str, object]) -> Account:
        # The role that counts is the caller's role in the TARGET account, not in the token's account.
        self._require_owner(actor, account_id)
        account = self.get_account(actor, account_id)
        changes = dict(changes)
        # Time zone and currency are columns (reports group and join on them), the rest is the settings bag.
        if (timezone := changes.pop("timezone", None)) is not None:
            account.timezone = str(timezone)
        if (currency := changes.pop("currency", None)) is not None:
            account.currency = str(currency)
        account.settings = {**(account.settings or {}), **changes}
        self.session.flush()
        return account

    def _is_member(self, user_id: str, account_id: str) -> bool:
        return (
            self.session.scalar(
                select(Membership.id).where(Membership.user_id == user_id, Membership.account_id == account_id)
            )
            is not None
        )

    # -- users -------------------------------------------------------------------------
    def create_user(
        self,
        *,
        email: str,
        password: str,
        name: str = "",
        is_platform_admin: bool = False,
    ) -> User:
        user = User(
            id=self.ids.new("usr"),
            email=email.strip().lower(),
            name=name,
            password_hash=passwords.hash_password(password),
            is_platform_admin=is_platform_admin,
            is_active=True,
            created_at=self.clock.now(),
        )
        self.session.add(user)
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise ConflictError("a user with that email exists", field="email") from exc
        return user

    def add_membership(self, account_id: str, user: User, *, role: str, influencer_id: str | None = None) -> Membership:
        """Make ``user`` a member: only ever called once the user consented (an accepted invitation)."""
        if self._is_member(user.id, account_id):
            raise ConflictError("you are already a member of this account")
        membership = Membership(
            id=self.ids.new("mem"),
            user_id=user.id,
            account_id=account_id,
            role=role,
            influencer_id=influencer_id,
            created_at=self.clock.now(),
        )
        self.session.add(membership)
        self.session.flush()
        return membership

    def list_members(self, actor: Actor, account_id: str) -> list[tuple[User, Membership]]:
        role = self._require_reader(actor, account_id)
        query = (
            select(User, Membership)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.account_id == account_id)
            .order_by(User.email)
        )
        if role == "influencer":  # a read-only influencer user sees only themselves
            query = query.where(Membership.user_id == actor.user_id)
        rows = self.session.execute(query)
        return [(user, membership) for user, membership in rows]

    def remove_member(self, actor: Actor, account_id: str, user_id: str) -> None:
        self._require_owner(actor, account_id)
        membership = self.session.scalar(
            select(Membership).where(Membership.account_id == account_id, Membership.user_id == user_id)
        )
        if membership is None:
            raise NotFoundError("member not found")
        if user_id == actor.user_id:
            raise InvalidInputError("you cannot remove yourself", field="user_id")
        self.session.delete(membership)
        self.session.flush()

    # -- login -------------------------------------------------------------------------
    def login(
        self,
        email: str,
        password: str,
        *,
        jwt_secret: str,
        expires_in: timedelta,
        account_id: str | None = None,
    ) -> tuple[str, User, str | None]:
        user = self.session.scalar(select(User).where(User.email == email.strip().lower()))
        if not passwords.verify_password(password, user.password_hash if user else None) or user is None:
            raise BadCredentialsError("invalid email or password")
        if not user.is_active:
            raise AuthenticationError("user is deactivated")
        memberships = list(
            self.session.scalars(
                select(Membership).where(Membership.user_id == user.id).order_by(Membership.created_at)
            )
        )
        chosen: str | None = None
        if account_id is not None:
            if not (user.is_platform_admin or any(m.account_id == account_id for m in memberships)):
                raise AuthenticationError("not a member of that account")
            chosen = account_id
        elif memberships:
            chosen = memberships[0].account_id
        token = tokens.issue_access_token(
            user_id=user.id,
            account_id=chosen,
            secret=jwt_secret,
            now=self.clock.now(),
            expires_in=expires_in,
            generation=user.token_generation,
        )
        return token, user, chosen

    def issue_token(self, user: User, account_id: str | None, *, jwt_secret: str, expires_in: timedelta) -> str:
        return tokens.issue_access_token(
            user_id=user.id,
            account_id=account_id,
            secret=jwt_secret,
            now=self.clock.now(),
            expires_in=expires_in,
            generation=user.token_generation,
        )

    def set_password(self, user: User, password: str) -> None:
        """A new password; every access token issued before it stops working (token generation + 1)."""
        user.password_hash = passwords.hash_password(password)
        user.token_generation = (user.token_generation or 0) + 1
        self.session.flush()

    def change_password(self, actor: Actor, current_password: str, new_password: str) -> User:
        user = self.session.get(User, actor.user_id)
        if user is None or not passwords.verify_password(current_password, user.password_hash):
            raise InvalidInputError("current_password is not right", field="current_password")
        if current_password == new_password:
            raise InvalidInputError("new_password must differ from the current one", field="new_password")
        self.set_password(user, new_password)
        return user

    def resolve_actor(self, claims: tokens.TokenClaims) -> Actor:
        """Re-checks the database on every request: a deactivated user or account stops at once."""
        user = self.session.get(User, claims.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("user no longer active")
        if claims.generation != (user.token_generation or 0):
            raise AuthenticationError("the password changed since this token was issued: log in again")
        role = None
        influencer_id = None
        if claims.account_id is not None:
            row = self.session.execute(
                select(Membership, Account)
                .join(Account, Account.id == Membership.account_id)
                .where(Membership.user_id == user.id, Membership.account_id == claims.account_id)
            ).first()
            if row is not None:
                membership, account = row
                if not account.is_active:
                    raise AuthenticationError("account is deactivated")
                role = membership.role
                influencer_id = membership.influencer_id
            elif not user.is_platform_admin:
                raise AuthenticationError("membership no longer exists")
            else:
                found = self.session.get(Account, claims.account_id)
                if found is None or not found.is_active:
                    raise AuthenticationError("account is deactivated")
        return Actor(
            user_id=user.id,
            email=user.email,
            is_platform_admin=user.is_platform_admin,
            account_id=claims.account_id,
            role=role,
            influencer_id=influencer_id,
        )

    # -- API keys ----------------------------------------------------------------------
    def create_api_key(
        self,
        actor: Actor,
        account_id: str,
        *,
        name: str = "",
        environment: str = "live",
        with_signing_secret: bool = False,
        plaintext: str | None = None,
        scopes: tuple[str, ...] = DEFAULT_KEY_SCOPES,
    ) -> tuple[ApiKey, str, str | None]:
        """Returns the stored key, its plaintext (shown once) and the signing secret (shown once)."""
        self._require_owner(actor, account_id)
        return self._insert_key(account_id, name, environment, with_signing_secret, plaintext, actor.user_id, scopes)

    def _insert_key(
        self,
        account_id: str,
        name: str,
        environment: str,
        with_signing_secret: bool,
        plaintext: str | None,
        created_by: str | None,
        scopes: tuple[str, ...] = DEFAULT_KEY_SCOPES,
    ) -> tuple[ApiKey, str, str | None]:
        if environment not in ("live", "test"):
            raise InvalidInputError("environment must be 'live' or 'test'", field="environment")
        if not scopes or any(scope not in KEY_SCOPES for scope in scopes):
            raise InvalidInputError(f"scopes must be some of {', '.join(KEY_SCOPES)}", field="scopes")
        new = api_keys.key_from_plaintext(plaintext) if plaintext else api_keys.generate_key(environment)
        signing_secret = api_keys.generate_signing_secret() if with_signing_secret else None
        key = ApiKey(
            id=self.ids.new("key"),
            account_id=account_id,
            name=name,
            environment=new.environment,
            secret_digest=new.digest,
            display_hint=new.hint,
            signing_secret_encrypted=self._box().encrypt(signing_secret) if signing_secret else None,
            created_by=created_by,
            created_at=self.clock.now(),
            scopes=" ".join(scope for scope in KEY_SCOPES if scope in scopes),
        )
        self.session.add(key)
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise ConflictError("that API key already exists") from exc
        return key, new.plaintext, signing_secret

    def list_api_keys(self, actor: Actor, account_id: str) -> list[ApiKey]:
        self._require_owner(actor, account_id)
        return list(self.session.scalars(select(ApiKey).where(ApiKey.account_id == account_id).order_by(ApiKey.id)))

    def _owned_key(self, actor: Actor, account_id: str, key_id: str) -> ApiKey:
        self._require_owner(actor, account_id)
        key = self.session.get(ApiKey, key_id)
        if key is None or key.account_id != account_id:
            raise NotFoundError("API key not found")
        return key

    def revoke_api_key(self, actor: Actor, account_id: str, key_id: str) -> ApiKey:
        key = self._owned_key(actor, account_id, key_id)
        if key.revoked_at is None:
            key.revoked_at = self.clock.now()
            self.session.flush()
        return key

    def rotate_api_key(self, actor: Actor, account_id: str, key_id: str) -> tuple[ApiKey, str, str | None]:
        """A new key with the same name and signing choice; the old one is revoked at once."""
        old = self._owned_key(actor, account_id, key_id)
        if old.revoked_at is not None:
            raise ConflictError("a revoked key cannot be rotated")
        new_key, plaintext, signing = self._insert_key(
            account_id,
            old.name,
            old.environment,
            old.signing_secret_encrypted is not None,
            None,
            actor.user_id,
            tuple(old.scope_set),
        )
        old.revoked_at = self.clock.now()
        old.rotated_to_id = new_key.id
        self.session.flush()
        return new_key, plaintext, signing

    def authenticate_key(self, plaintext: str) -> KeyPrincipal:
        if not api_keys.looks_like_key(plaintext):
            raise AuthenticationError("invalid API key")
        row = self.session.execute(
            select(ApiKey, Account)
            .join(Account, Account.id == ApiKey.account_id)
            .where(ApiKey.secret_digest == api_keys.digest_key(plaintext))
        ).first()
        if row is None:
            raise AuthenticationError("invalid API key")
        key, account = row
        if key.revoked_at is not None:
            raise AuthenticationError("API key has been revoked")
        if not account.is_active:
            raise AuthenticationError("account is deactivated")
        signing = self._box().decrypt(key.signing_secret_encrypted) if key.signing_secret_encrypted else None
        return KeyPrincipal(
            account_id=account.id,
            api_key_id=key.id,
            environment=key.environment,
            account_settings=dict(account.settings or {}),
            signing_secret=signing,
            scopes=key.scope_set,
        )

    # -- guards ------------------------------------------------------------------------
    def role_in(self, actor: Actor, account_id: str) -> str | None:
        """The caller's role in ``account_id``, read from the database (never from the token's account)."""
        if actor.account_id == account_id and actor.role is not None:
            return actor.role  # resolved from the database for this very request
        return self.session.scalar(
            select(Membership.role).where(Membership.user_id == actor.user_id, Membership.account_id == account_id)
        )

    def _require_reader(self, actor: Actor, account_id: str) -> str:
        """The caller's role in ``account_id`` ("admin" for platform admins); 404 unless the token is for it."""
        if actor.is_platform_admin:
            return "admin"
        role = self.role_in(actor, account_id)
        if role is None or actor.account_id != account_id:
            raise NotFoundError("account not found")
        return role

    def _require_owner(self, actor: Actor, account_id: str) -> None:
        if self._require_reader(actor, account_id) not in ("owner", "admin"):
            raise PermissionDeniedError("only account owners may do this")

    def _box(self) -> SecretBox:
        if self.secret_box is None:
            raise RuntimeError("Tenancy needs a SecretBox for signing secrets")
        return self.secret_box
