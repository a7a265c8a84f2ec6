"""API-key authentication plus the optional ``X-Signature`` HMAC of the raw body."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from multibuzz.auth.signatures import verify
from multibuzz.errors import AuthenticationError
from multibuzz.http.deps import KeyAuth
from multibuzz.services.context import KeyPrincipal


async def signed_key_principal(request: Request, principal: KeyAuth) -> KeyPrincipal:
    """A signature that is present must verify; one is required when the account says so."""
    signature = request.headers.get("x-signature")
    required = bool(principal.account_settings.get("require_signature"))
    if signature is None and not required:
        return principal
    if principal.signing_secret is None:
        raise AuthenticationError("this API key has no signing secret, so X-Signature cannot be verified")
    if signature is None:
        raise AuthenticationError("X-Signature header is required for this account")
    if not verify(principal.signing_secret, await request.body(), signature):
        raise AuthenticationError("X-Signature does not match the request body")
    return principal


SignedKeyAuth = Annotated[KeyPrincipal, Depends(signed_key_principal)]
