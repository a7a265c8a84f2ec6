"""Deploy-time migrator: runs Alembic against the database, and creates the first platform admin on request.

On AWS this is a Lambda (handler ``multibuzz.runtime.migrator.lambda_handler``) that a CDK Trigger invokes
during every deployment whose shared layer changed, before the new function code takes traffic. A failure
raises, so CloudFormation fails the deployment and rolls back.

Events:

* ``{}`` or ``{"action": "migrate"}`` — upgrade to the latest revision (what the deploy trigger sends).
* ``{"action": "bootstrap_admin", "email": "you@example.com", "account_name": "Acme"}`` — migrate, then
  create the platform admin (if that email is new) and, when ``account_name`` is given, that account with the
  admin as owner and a live API key (only if the account has none). Passwords and keys are returned once, in
  the invoke response, and never logged. ``"reset_password": true`` issues a new password for an existing
  admin. Idempotent: invoking it again creates nothing twice.
"""

from __future__ import annotations

import secrets
from typing import Any

from multibuzz.bootstrap import Container, get_container
from multibuzz.observability import get_logger

logger = get_logger("migrator")

ACTIONS = ("migrate", "bootstrap_admin")


class MigratorError(ValueError):
    """A malformed migrator event."""


def lambda_handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    payload = dict(event or {})
    action = str(payload.get("action") or "migrate")
    if action not in ACTIONS:
        raise MigratorError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
    container = get_container()
    heads = migrate(container)
    result: dict[str, Any] = {"action": action, "heads": list(heads)}
    if action == "bootstrap_admin":
        result |= bootstrap_admin(
            container,
            email=str(payload.get("email") or ""),
            account_name=str(payload.get("account_name") or "") or None,
            reset_password=bool(payload.get("reset_password", False)),
        )
    logger.info("migrator finished", extra={"action": action, "heads": list(heads)})
    return result


def migrate(container: Container) -> tuple[str, ...]:
    from multibuzz.db.migrate import current_heads, upgrade

    upgrade(container.engine)
    return current_heads()


def bootstrap_admin(
    container: Container, *, email: str, account_name: str | None, reset_password: bool
) -> dict[str, Any]:
    from sqlalchemy import select

    from multibuzz.db.models import Account, ApiKey, Membership, User
    from multibuzz.services.tenancy import Tenancy, slugify

    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise MigratorError("bootstrap_admin needs a valid 'email'")
    result: dict[str, Any] = {"admin_email": email, "admin_password": None, "api_key": None}
    with container.session() as session:
        tenancy = Tenancy(session, container.clock, container.ids, container.secret_box)
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            password = secrets.token_urlsafe(18)
            user = tenancy.create_user(email=email, password=password, name="Platform Admin", is_platform_admin=True)
            result["admin_password"] = password
            result["admin_created"] = True
        else:
            result["admin_created"] = False
            if not user.is_platform_admin:
                user.is_platform_admin = True
            if reset_password:
                password = secrets.token_urlsafe(18)
                tenancy.set_password(user, password)  # older access tokens stop working
                result["admin_password"] = password
        result["user_id"] = user.id

        if account_name:
            slug = slugify(account_name)
            account = session.scalar(select(Account).where(Account.slug == slug))
            if account is None:
                account = tenancy.create_account(None, account_name, slug)
            membership = session.scalar(
                select(Membership).where(Membership.user_id == user.id, Membership.account_id == account.id)
            )
            if membership is None:
                session.add(
                    Membership(
                        id=container.ids.new("mem"),
                        user_id=user.id,
                        account_id=account.id,
                        role="owner",
                        created_at=container.clock.now(),
                    )
                )
            if session.scalar(select(ApiKey.id).where(ApiKey.account_id == account.id).limit(1)) is None:
                _, plaintext, _ = tenancy._insert_key(
                    account.id, "bootstrap", "live", False, None, user.id, ("ingest", "read")
                )
                result["api_key"] = plaintext
            result["account_id"] = account.id
        session.commit()
    return result
