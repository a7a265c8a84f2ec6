"""A privacy request's subject: named by the advertiser, resolved to the rows that hold them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from multibuzz.db.models import Identity, Visitor
from multibuzz.domain.privacy import account_salt, apply_ip_privacy, visitor_fingerprint
from multibuzz.privacy.hashing import EMAIL_HASH_TRAIT, email_hash

SubjectType = Literal["visitor_id", "user_id", "email"]
SUBJECT_TYPES: tuple[SubjectType, ...] = ("visitor_id", "user_id", "email")


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """What the advertiser named: one identifier, plus optional hints that find the subject's clicks
    (a click carries no visitor id: only a keyed hash of the full IP and user agent)."""

    type: SubjectType
    value: str
    ips: tuple[str, ...] = ()
    user_agents: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()  # Shopify customer ids (the customers/redact webhook names one)

    @property
    def normalised(self) -> str:
        return normalise(self.type, self.value)

    def as_message(self) -> dict[str, object]:
        message: dict[str, object] = {
            "type": self.type,
            "value": self.value,
            "ips": list(self.ips),
            "user_agents": list(self.user_agents),
        }
        if self.customer_ids:
            message["customer_ids"] = list(self.customer_ids)
        return message

    @classmethod
    def from_message(cls, data: dict[str, object]) -> SubjectRef:
        kind = str(data["type"])
        if kind not in SUBJECT_TYPES:
            raise ValueError(f"unknown subject type {kind!r}")
        ips = data.get("ips") or []
        agents = data.get("user_agents") or []
        customers = data.get("customer_ids") or []
        assert isinstance(ips, list) and isinstance(agents, list) and isinstance(customers, list)
        return cls(kind, str(data["value"]), tuple(map(str, ips)), tuple(map(str, agents)), tuple(map(str, customers)))


def normalise(kind: str, value: str) -> str:
    text = value.strip()
    return text.lower() if kind == "email" else text


def subject_hash(key: str, account_id: str, kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) of (account, kind, normalised value): the audit record's only trace of the subject."""
    message = f"{account_id}\x1f{kind}\x1f{normalise(kind, value)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Subject:
    """The subject's rows' keys in one account: their visitors (devices), identities, and click hashes."""

    account_id: str
    ref: SubjectRef
    visitor_ids: list[str] = field(default_factory=list)  # visitors.id
    visitor_keys: list[str] = field(default_factory=list)  # the cookie values
    identity_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    click_hashes: list[str] = field(default_factory=list)  # clicks.visitor_hash of the hinted (IP, UA) pairs
    stored_ips: list[str] = field(default_factory=list)  # the hinted IPs as the account stores them
    # Shopify orders of the subject: (integration id, order id), and the customer ids they carry
    shopify_orders: list[tuple[str, str]] = field(default_factory=list)
    shopify_customer_ids: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.visitor_ids or self.identity_ids or self.click_hashes or self.shopify_orders)


#: Features that hold personal data keyed their own way add the subject's keys here (the Shopify orders:
#: multibuzz.commerce.shopify.privacy). Called as ``extend(session, subject, server_secret)`` at the end of
#: :func:`resolve`.
Extension = Callable[[Session, Subject, str], None]
EXTENSIONS: list[Extension] = []


def _trait(session: Session, name: str) -> Any:
    value = func.json_extract(Identity.traits, f"$.{name}")
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        value = func.json_unquote(value)
    return value


def _email_identities(session: Session, account_id: str, email: str, salt: bytes) -> list[str]:
    """Identities whose user_id is the e-mail address, or whose traits carry its keyed hash (``email_hash``,
    as identify stores it) or, for rows stored before hashing, the address itself."""
    rows = session.execute(
        select(Identity.id).where(
            Identity.account_id == account_id,
            or_(
                func.lower(Identity.user_id) == email,
                _trait(session, EMAIL_HASH_TRAIT) == email_hash(salt, email),
                func.lower(_trait(session, "email")) == email,
            ),
        )
    ).scalars()
    return list(rows)


def resolve(session: Session, account_id: str, ref: SubjectRef, server_secret: str, ip_mode: str | None) -> Subject:
    """Every visitor and identity of the subject: a visitor id brings its identity and that identity's
    other devices; a user id or e-mail brings the identity and all its linked visitors."""
    subject = Subject(account_id, ref)
    salt = account_salt(server_secret, account_id)
    value = ref.normalised
    identity_ids: set[str] = set()
    if ref.type == "visitor_id":
        row = session.execute(
            select(Visitor.identity_id).where(Visitor.account_id == account_id, Visitor.visitor_key == value)
        ).first()
        if row is not None:
            subject.visitor_keys.append(value)
            if row[0] is not None:
                identity_ids.add(row[0])
    elif ref.type == "user_id":
        identity_ids.update(
            session.execute(
                select(Identity.id).where(Identity.account_id == account_id, Identity.user_id == value)
            ).scalars()
        )
    else:
        identity_ids.update(_email_identities(session, account_id, value, salt))
    if identity_ids:
        for ident, user_id in session.execute(
            select(Identity.id, Identity.user_id).where(
                Identity.account_id == account_id, Identity.id.in_(sorted(identity_ids))
            )
        ):
            subject.identity_ids.append(ident)
            subject.user_ids.append(user_id)
        keys = session.execute(
            select(Visitor.visitor_key).where(
                Visitor.account_id == account_id, Visitor.identity_id.in_(subject.identity_ids)
            )
        ).scalars()
        subject.visitor_keys = sorted({*subject.visitor_keys, *keys})
    if subject.visitor_keys:
        subject.visitor_ids = list(
            session.execute(
                select(Visitor.id).where(
                    Visitor.account_id == account_id, Visitor.visitor_key.in_(subject.visitor_keys)
                )
            ).scalars()
        )
    subject.click_hashes = sorted({visitor_fingerprint(ip, agent, salt) for ip in ref.ips for agent in ref.user_agents})
    subject.stored_ips = sorted({s for s in (apply_ip_privacy(ip, ip_mode, salt) for ip in ref.ips) if s})
    for extend in EXTENSIONS:
        extend(session, subject, server_secret)
    return subject
