"""Short-lived JWT access tokens (HS256) for people using the management API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

_ALGORITHM = "HS256"
_ISSUER = "multibuzz"


class InvalidTokenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    account_id: str | None
    generation: int = 0  # the user's token generation when issued (bumped by a password change)


def issue_access_token(
    *,
    user_id: str,
    account_id: str | None,
    secret: str,
    now: datetime,
    expires_in: timedelta,
    generation: int = 0,
) -> str:
    payload = {
        "sub": user_id,
        "acc": account_id,
        "gen": generation,
        "iss": _ISSUER,
        "iat": int(now.timestamp()),
        "exp": int((now + expires_in).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def decode_access_token(token: str, *, secret: str, now: datetime) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["sub", "exp", "iat"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    # Expiry is checked against the injected clock, not the wall clock.
    if int(payload["exp"]) <= int(now.timestamp()):
        raise InvalidTokenError("token expired")
    generation = payload.get("gen", 0)
    if not isinstance(generation, int):
        raise InvalidTokenError("bad token generation")
    return TokenClaims(user_id=str(payload["sub"]), account_id=payload.get("acc"), generation=generation)
