"""Request and response bodies of the management API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from multibuzz.db.models import Membership, User
from multibuzz.domain.attribution.types import ModelName
from multibuzz.domain.channels import ChannelRule


def _timezone(value: str) -> str:
    from multibuzz.domain.timezones import zone

    zone(value)  # ValueError names the zone
    return value


def _currency(value: str) -> str:
    from multibuzz.domain.currencies import is_currency

    if not is_currency(value):
        raise ValueError(f"unknown currency {value!r}; use an ISO 4217 code such as 'EUR'")
    return value.upper()


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_timezone)]
CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]


def _email(value: str) -> str:
    value = value.strip().lower()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+|[^@\s]+@[^@\s.]+", value):
        raise ValueError("must be an email address like name@example.com")
    return value


# The pattern is _email's rule, published in the OpenAPI document (the validator also lower-cases). Python's
# \s spelled out, since a JSON Schema pattern's \s (ECMA-262) is a different set of characters.
_WS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
EMAIL_PATTERN = rf"^[{_WS}]*[^@{_WS}]+@(?:[^@.{_WS}]+|[^@{_WS}]+\.[^@{_WS}]+)[{_WS}]*$"
Email = Annotated[
    str,
    Field(min_length=3, max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}),
    AfterValidator(_email),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginIn(Strict):
    email: Email
    password: str = Field(min_length=1, max_length=1024)
    account_id: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    account_id: str | None


class AccountIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,89}$")


class AccountSettingsIn(Strict):
    #: The account's IANA time zone (days in reports and aggregates) and reporting currency (ISO 4217).
    timezone: TimeZoneName | None = None
    currency: CurrencyCode | None = None
    session_timeout_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    lookback_days: int | None = Field(default=None, ge=1, le=365)
    require_signature: bool | None = None
    ip_privacy: Literal["truncate", "hash", "none"] | None = None
    domains: list[str] | None = Field(default=None, max_length=50)
    channel_rules: list[ChannelRule] | None = Field(default=None, max_length=50)
    half_life_days: float | None = Field(default=None, gt=0, le=365)
    model_lookback_days: dict[str, int] | None = Field(
        default=None,
        # _known_models' rule, for the OpenAPI document: keys are model names, values 1-365 days.
        json_schema_extra={
            "propertyNames": {"enum": list(get_args(ModelName))},
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 365},
        },
    )
    #: Influencer waterfall step 3 (ref_code in a touch's landing URL/referrer): credit the FIRST matching
    #: touch in the lookback (default, seed 002) or the most recent one ("last").
    influencer_touch: Literal["first", "last"] | None = None
    #: Privacy (multibuzz.privacy): hits without ``consent.analytics=true`` are stored without identifying
    #: data; raw events/sessions/visitors and link clicks are deleted this many days after their last activity.
    require_consent: bool | None = None
    raw_event_retention_days: int | None = Field(default=None, ge=1, le=3650)
    click_retention_days: int | None = Field(default=None, ge=1, le=3650)

    @field_validator("model_lookback_days")
    @classmethod
    def _known_models(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        from multibuzz.domain.attribution import MODELS

        for model, days in (value or {}).items():
            if model not in MODELS:
                raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
            if not 1 <= days <= 365:
                raise ValueError(f"lookback for {model} must be from 1 to 365 days")
        return value


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    slug: str
    status: str
    timezone: str
    currency: str
    settings: dict[str, Any]
    created_at: datetime
    deactivated_at: datetime | None


class MemberIn(Strict):
    """An invitation: nobody becomes a member until the invitee accepts (POST /invitations/accept)."""

    email: Email
    role: Literal["owner", "member", "influencer"]
    influencer_id: str | None = Field(default=None, max_length=40)


Password = Annotated[str, Field(min_length=10, max_length=1024)]


class InvitationOut(BaseModel):
    """The same shape whatever the address: it never says whether a user already has it."""

    id: str
    email: str
    role: str
    influencer_id: str | None
    status: Literal["pending", "accepted", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime


class InvitationCreatedOut(InvitationOut):
    token: str | None = Field(
        default=None,
        description="The one-time invitation token, shown once (local/test stages; otherwise only sent to the "
        "invitee through the outbox).",
    )


class AcceptIn(Strict):
    token: str = Field(min_length=10, max_length=200)
    password: Password | None = Field(default=None, description="Sets the password of a new user")
    name: str = Field(default="", max_length=200)


class AcceptedOut(BaseModel):
    user_id: str
    email: str
    account_id: str
    role: str
    influencer_id: str | None
    created_user: bool


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class PasswordResetIn(Strict):
    email: Email


class PasswordResetConfirmIn(Strict):
    token: str = Field(min_length=10, max_length=200)
    password: Password


class StatusOut(BaseModel):
    status: str


class MemberOut(BaseModel):
    user_id: str
    email: str
    name: str
    role: str
    influencer_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, user: User, membership: Membership) -> MemberOut:
        """From a User and its Membership row."""
        return cls(
            user_id=user.id,
            email=user.email,
            name=user.name,
            role=membership.role,
            influencer_id=membership.influencer_id,
            created_at=membership.created_at,
        )


KeyScope = Literal["ingest", "read", "privacy"]


def _default_scopes() -> list[KeyScope]:
    return ["ingest"]


class ApiKeyIn(Strict):
    name: str = Field(default="", max_length=200)
    environment: Literal["live", "test"] = "live"
    with_signing_secret: bool = False
    scopes: list[KeyScope] = Field(
        default_factory=_default_scopes,
        min_length=1,
        max_length=3,
        description="ingest (default): the ingestion routes; read (opt-in): GET /conversions/{id} for SDKs; "
        "privacy (opt-in): erasure and access requests (/privacy/…)",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    environment: str
    display_hint: str
    has_signing_secret: bool
    created_at: datetime
    revoked_at: datetime | None
    rotated_to_id: str | None
    scopes: list[str]


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The secret key. Shown once; store it now.")
    signing_secret: str | None = Field(default=None, description="HMAC signing secret, shown once.")


class MeOut(BaseModel):
    user_id: str
    email: str
    is_platform_admin: bool
    account_id: str | None
    role: str | None
    influencer_id: str | None
