"""Local demo data: one account, one platform admin (also its owner) and one API key. Idempotent."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from multibuzz.auth import api_keys
from multibuzz.auth.crypto import SecretBox
from multibuzz.clock import Clock
from multibuzz.db.models import Account, ApiKey, Membership, User
from multibuzz.ids import IdGenerator
from multibuzz.services.tenancy import Tenancy

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    account_id: str
    admin_email: str
    admin_password: str | None  # None when it was set earlier and is not known now
    api_key: str | None


def seed_demo(
    session: Session,
    *,
    clock: Clock,
    ids: IdGenerator,
    secret_box: SecretBox,
    admin_email: str,
    admin_password: str | None,
    api_key: str | None,
    credentials_file: Path | None = None,
) -> DemoCredentials:
    tenancy = Tenancy(session, clock, ids, secret_box)
    remembered = _read(credentials_file)

    account = session.scalar(select(Account).where(Account.slug == DEMO_SLUG))
    if account is None:
        account = tenancy.create_account(None, "Demo Store", DEMO_SLUG)

    email = admin_email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    password = admin_password or remembered.get("admin_password")
    if user is None:
        password = password or secrets.token_urlsafe(12)
        user = tenancy.create_user(email=email, password=password, name="Demo Admin", is_platform_admin=True)
    elif admin_password:
        from multibuzz.auth.passwords import verify_password

        if not verify_password(admin_password, user.password_hash):
            tenancy.set_password(user, admin_password)
    if (
        session.scalar(select(Membership).where(Membership.user_id == user.id, Membership.account_id == account.id))
        is None
    ):
        session.add(
            Membership(
                id=ids.new("mem"),
                user_id=user.id,
                account_id=account.id,
                role="owner",
                created_at=clock.now(),
            )
        )

    plaintext = api_key or remembered.get("api_key")
    if plaintext:
        digest = api_keys.digest_key(plaintext)
        if session.scalar(select(ApiKey).where(ApiKey.secret_digest == digest)) is None:
            tenancy._insert_key(account.id, "demo", "live", False, plaintext, user.id, ("ingest", "read"))
    elif session.scalar(select(ApiKey).where(ApiKey.account_id == account.id)) is None:
        _, plaintext, _ = tenancy._insert_key(account.id, "demo", "live", False, None, user.id, ("ingest", "read"))
    session.commit()

    creds = DemoCredentials(account.id, email, password, plaintext)
    if credentials_file is not None:
        _write(credentials_file, creds)
    return creds


def _read(path: Path | None) -> dict[str, str]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _write(path: Path, creds: DemoCredentials) -> None:
    """Local development only: the demo credentials, readable by this user alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"account_id": creds.account_id, "admin_email": creds.admin_email}
    if creds.admin_password:
        data["admin_password"] = creds.admin_password
    if creds.api_key:
        data["api_key"] = creds.api_key
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
