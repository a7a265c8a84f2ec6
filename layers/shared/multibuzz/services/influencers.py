"""Campaigns, influencers, assignments, coupons and tracking links: the management side of issue 5.

Access rules (every query filtered by the actor's account):
- owner/member (and platform admins acting in the account) read and write everything in the account;
- an influencer user reads only its own influencer, the campaigns it is assigned to, and its own
  coupons, links and clicks; it never writes. Anything outside that scope is a 404, never a 403,
  so ids of other tenants or other influencers reveal nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from multibuzz.clock import Clock, ensure_utc
from multibuzz.db.models.influencer import Campaign, CampaignInfluencer, Coupon, Influencer, TrackingLink
from multibuzz.domain import coupons as coupon_rules
from multibuzz.domain import links as link_rules
from multibuzz.domain.waterfall import ATTRIBUTION_SOURCES
from multibuzz.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from multibuzz.ids import IdGenerator
from multibuzz.services.context import Actor
from multibuzz.services.pagination import PageResult, check_limit, decode_cursor

CAMPAIGN_STATUSES = ("draft", "active", "paused", "archived")
INFLUENCER_STATUSES = ("active", "inactive")
COUPON_STATUSES = ("active", "invalidated")
LINK_STATUSES = ("active", "disabled")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_HANDLE_RE = re.compile(r"^[a-z0-9._-]{1,100}$")
_LOOKUP_CHUNK = 500
_LINK_CODE_ATTEMPTS = 5


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100] or "campaign"


def normalize_handle(handle: str) -> str:
    value = handle.strip().lstrip("@").lower()
    if not _HANDLE_RE.fullmatch(value):
        raise InvalidInputError(
            "handle may only contain letters, digits, '.', '_' and '-' (1-100 characters, an optional leading @)",
            field="handle",
        )
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """Where an actor may look: an account, and for influencer users one influencer."""

    account_id: str
    influencer_id: str | None = None  # set: an influencer user, read-own

    @property
    def restricted(self) -> bool:
        return self.influencer_id is not None


def scope_of(actor: Actor) -> Scope:
    if actor.account_id is None:
        raise NotFoundError("no account selected: log in with an account_id")
    if actor.role == "influencer" and not actor.is_platform_admin:
        return Scope(actor.account_id, actor.influencer_id or "-")
    return Scope(actor.account_id)


def writer_scope(actor: Actor) -> Scope:
    scope = scope_of(actor)
    if not actor.can_write:
        raise PermissionDeniedError("read-only role")
    return scope


def _check_choice(value: str, allowed: Iterable[str], field_name: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidInputError(f"{field_name} must be one of {', '.join(allowed)}", field=field_name)
    return value


def _check_dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ensure_utc(ends_at) <= ensure_utc(starts_at):
        raise InvalidInputError("ends_at must be after starts_at", field="ends_at")


@dataclass
class InfluencerService:
    session: Session
    clock: Clock
    ids: IdGenerator
    base_url: str = ""

    def now(self) -> datetime:
        return self.clock.now()

    # -- helpers -------------------------------------------------------------------------
    def _page(self, query: Select[Any], model: Any, cursor: str | None, limit: int) -> PageResult[Any]:
        check_limit(limit)
        after = decode_cursor(cursor)
        if after is not None:
            query = query.where(model.id < after)
        rows = list(self.session.scalars(query.order_by(model.id.desc()).limit(limit + 1)))
        return PageResult.from_rows(rows, limit)

    def _flush(self, message: str, field_name: str | None = None) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            self.session.rollback()
            raise ConflictError(message, field=field_name) from exc

    def tracking_url(self, code: str) -> str:
        return f"{self.base_url.rstrip('/')}/r/{code}"

    # -- campaigns -----------------------------------------------------------------------
    def _campaign(self, scope: Scope, campaign_id: str) -> Campaign:
        campaign = self.session.get(Campaign, campaign_id)
        if campaign is None or campaign.account_id != scope.account_id:
            raise NotFoundError("campaign not found")
        if scope.restricted and not self._is_assigned(scope.account_id, campaign_id, scope.influencer_id or ""):
            raise NotFoundError("campaign not found")
        return campaign

    def _is_assigned(self, account_id: str, campaign_id: str, influencer_id: str) -> bool:
        return (
            self.session.scalar(
                select(CampaignInfluencer.id).where(
                    CampaignInfluencer.account_id == account_id,
                    CampaignInfluencer.campaign_id == campaign_id,
                    CampaignInfluencer.influencer_id == influencer_id,
                )
            )
            is not None
        )

    def create_campaign(
        self,
        actor: Actor,
        *,
        name: str,
        slug: str | None = None,
        status: str = "active",
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        attribution_source: str = "links_and_coupons",
        default_destination_url: str | None = None,
        fallback_url: str | None = None,
    ) -> Campaign:
        scope = writer_scope(actor)
        slug = slug.strip().lower() if slug else slugify(name)
        if not _SLUG_RE.fullmatch(slug):
            raise InvalidInputError("slug may only contain a-z, 0-9, '-' and '_'", field="slug")
        _check_choice(status, CAMPAIGN_STATUSES, "status")
        _check_choice(attribution_source, ATTRIBUTION_SOURCES, "attribution_source")
        _check_dates(starts_at, ends_at)
        now = self.now()
        campaign = Campaign(
            id=self.ids.new("cmp"),
            account_id=scope.account_id,
            name=name,
            slug=slug,
            status=status,
            starts_at=ensure_utc(starts_at) if starts_at else None,
            ends_at=ensure_utc(ends_at) if ends_at else None,
            attribution_source=attribution_source,
            default_destination_url=(
                link_rules.validate_destination(default_destination_url, "default_destination_url")
                if default_destination_url
                else None
            ),
            fallback_url=link_rules.validate_destination(fallback_url, "fallback_url") if fallback_url else None,
            created_at=now,
            updated_at=now,
        )
        self.session.add(campaign)
        self._flush(f"a campaign with slug {slug!r} exists", "slug")
        return campaign

    def list_campaigns(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        influencer_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> PageResult[Campaign]:
        scope = scope_of(actor)
        query = select(Campaign).where(Campaign.account_id == scope.account_id)
        if status:
            query = query.where(Campaign.status == _check_choice(status, CAMPAIGN_STATUSES, "status"))
        for wanted in {influencer_id, scope.influencer_id} - {None}:
            query = query.where(
                Campaign.id.in_(
                    select(CampaignInfluencer.campaign_id).where(
                        CampaignInfluencer.account_id == scope.account_id,
                        CampaignInfluencer.influencer_id == wanted,
                    )
                )
            )
        return self._page(query, Campaign, cursor, limit)

    def get_campaign(self, actor: Actor, campaign_id: str) -> Campaign:
        return self._campaign(scope_of(actor), campaign_id)

    def update_campaign(self, actor: Actor, campaign_id: str, changes: dict[str, Any]) -> Campaign:
        scope = writer_scope(actor)
        campaign = self._campaign(scope, campaign_id)
        if "name" in changes and changes["name"] is not None:
            campaign.name = str(changes["name"])
        if changes.get("slug"):
            slug = str(changes["slug"]).strip().lower()
            if not _SLUG_RE.fullmatch(slug):
                raise InvalidInputError("slug may only contain a-z, 0-9, '-' and '_'", field="slug")
            campaign.slug = slug
        if changes.get("status"):
            campaign.status = _check_choice(str(changes["status"]), CAMPAIGN_STATUSES, "status")
        if changes.get("attribution_source"):
            campaign.attribution_source = _check_choice(
                str(changes["attribution_source"]), ATTRIBUTION_SOURCES, "attribution_source"
            )
        for key in ("starts_at", "ends_at"):
            if key in changes:
                value = changes[key]
                setattr(campaign, key, ensure_utc(value) if value is not None else None)
        _check_dates(campaign.starts_at, campaign.ends_at)
        for key in ("default_destination_url", "fallback_url"):
            if key in changes:
                value = changes[key]
                setattr(campaign, key, link_rules.validate_destination(value, key) if value else None)
        campaign.updated_at = self.now()
        self._flush(f"a campaign with slug {campaign.slug!r} exists", "slug")
        self._forget_links(select(TrackingLink.code).where(TrackingLink.campaign_id == campaign.id))
        return campaign

    def assign(self, actor: Actor, campaign_id: str, influencer_id: str) -> CampaignInfluencer:
        scope = writer_scope(actor)
        campaign = self._campaign(scope, campaign_id)
        influencer = self._influencer(scope, influencer_id)
        return self._ensure_assignment(scope.account_id, campaign.id, influencer.id)

    def _ensure_assignment(self, account_id: str, campaign_id: str, influencer_id: str) -> CampaignInfluencer:
        existing = self.session.scalar(
            select(CampaignInfluencer).where(
                CampaignInfluencer.account_id == account_id,
                CampaignInfluencer.campaign_id == campaign_id,
                CampaignInfluencer.influencer_id == influencer_id,
            )
        )
        if existing is not None:
            return existing
        assignment = CampaignInfluencer(
            id=self.ids.new("asg"),
            account_id=account_id,
            campaign_id=campaign_id,
            influencer_id=influencer_id,
            created_at=self.now(),
        )
        self.session.add(assignment)
        self._flush("that influencer is already assigned to the campaign")
        return assignment

    def unassign(self, actor: Actor, campaign_id: str, influencer_id: str) -> None:
        scope = writer_scope(actor)
        self._campaign(scope, campaign_id)
        assignment = self.session.scalar(
            select(CampaignInfluencer).where(
                CampaignInfluencer.account_id == scope.account_id,
                CampaignInfluencer.campaign_id == campaign_id,
                CampaignInfluencer.influencer_id == influencer_id,
            )
        )
        if assignment is None:
            raise NotFoundError("that influencer is not assigned to the campaign")
        self.session.delete(assignment)
        self.session.flush()

    def campaign_influencers(self, actor: Actor, campaign_id: str) -> list[Influencer]:
        scope = scope_of(actor)
        self._campaign(scope, campaign_id)
        query = (
            select(Influencer)
            .join(CampaignInfluencer, CampaignInfluencer.influencer_id == Influencer.id)
            .where(CampaignInfluencer.account_id == scope.account_id, CampaignInfluencer.campaign_id == campaign_id)
            .order_by(Influencer.handle)
        )
        if scope.restricted:
            query = query.where(Influencer.id == scope.influencer_id)
        return list(self.session.scalars(query))

    # -- influencers ---------------------------------------------------------------------
    def _influencer(self, scope: Scope, influencer_id: str) -> Influencer:
        influencer = self.session.get(Influencer, influencer_id)
        if influencer is None or influencer.account_id != scope.account_id:
            raise NotFoundError("influencer not found")
        if scope.restricted and influencer.id != scope.influencer_id:
            raise NotFoundError("influencer not found")
        return influencer

    def create_influencer(
        self, actor: Actor, *, name: str, handle: str, email: str | None = None, status: str = "active"
    ) -> Influencer:
        scope = writer_scope(actor)
        now = self.now()
        influencer = Influencer(
            id=self.ids.new("inf"),
            account_id=scope.account_id,
            name=name,
            handle=normalize_handle(handle),
            email=email,
            status=_check_choice(status, INFLUENCER_STATUSES, "status"),
            created_at=now,
            updated_at=now,
        )
        self.session.add(influencer)
        self._flush(f"an influencer with handle {influencer.handle!r} exists", "handle")
        return influencer

    def list_influencers(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        campaign_id: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> PageResult[Influencer]:
        scope = scope_of(actor)
        query = select(Influencer).where(Influencer.account_id == scope.account_id)
        if scope.restricted:
            query = query.where(Influencer.id == scope.influencer_id)
        if status:
            query = query.where(Influencer.status == _check_choice(status, INFLUENCER_STATUSES, "status"))
        if campaign_id:
            query = query.where(
                Influencer.id.in_(
                    select(CampaignInfluencer.influencer_id).where(
                        CampaignInfluencer.account_id == scope.account_id,
                        CampaignInfluencer.campaign_id == campaign_id,
                    )
                )
            )
        if q:
            like = f"%{q.strip().lower()}%"
            query = query.where((Influencer.handle.like(like)) | (func.lower(Influencer.name).like(like)))
        return self._page(query, Influencer, cursor, limit)

    def get_influencer(self, actor: Actor, influencer_id: str) -> Influencer:
        return self._influencer(scope_of(actor), influencer_id)

    def update_influencer(self, actor: Actor, influencer_id: str, changes: dict[str, Any]) -> Influencer:
        scope = writer_scope(actor)
        influencer = self._influencer(scope, influencer_id)
        if changes.get("name") is not None:
            influencer.name = str(changes["name"])
        if changes.get("handle"):
            influencer.handle = normalize_handle(str(changes["handle"]))
        if "email" in changes:
            influencer.email = changes["email"]
        if changes.get("status"):
            influencer.status = _check_choice(str(changes["status"]), INFLUENCER_STATUSES, "status")
        influencer.updated_at = self.now()
        self._flush(f"an influencer with handle {influencer.handle!r} exists", "handle")
        return influencer

    # -- coupons -------------------------------------------------------------------------
    def _coupon(self, scope: Scope, coupon_id: str) -> Coupon:
        coupon = self.session.get(Coupon, coupon_id)
        if coupon is None or coupon.account_id != scope.account_id:
            raise NotFoundError("coupon not found")
        if scope.restricted and coupon.influencer_id != scope.influencer_id:
            raise NotFoundError("coupon not found")
        return coupon

    def _coupon_owner(
        self, scope: Scope, campaign_id: str | None, influencer_id: str | None
    ) -> tuple[str | None, str | None]:
        campaign = self._campaign(scope, campaign_id) if campaign_id else None
        influencer = self._influencer(scope, influencer_id) if influencer_id else None
        if campaign is not None and influencer is not None:
            self._ensure_assignment(scope.account_id, campaign.id, influencer.id)
        return (campaign.id if campaign else None, influencer.id if influencer else None)

    def _taken_codes(self, account_id: str, candidates: Iterable[str]) -> set[str]:
        wanted = list(candidates)
        taken: set[str] = set()
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            taken.update(
                self.session.scalars(
                    select(Coupon.code_normalized).where(
                        Coupon.account_id == account_id, Coupon.code_normalized.in_(chunk)
                    )
                )
            )
        return taken

    def _new_coupon(self, account_id: str, code: str, campaign_id: str | None, influencer_id: str | None) -> Coupon:
        return Coupon(
            id=self.ids.new("cpn"),
            account_id=account_id,
            campaign_id=campaign_id,
            influencer_id=influencer_id,
            code=code,
            code_normalized=coupon_rules.normalize_code(code),
            status="active",
            created_at=self.now(),
        )

    def create_coupon(
        self, actor: Actor, *, code: str, campaign_id: str | None = None, influencer_id: str | None = None
    ) -> Coupon:
        scope = writer_scope(actor)
        value = coupon_rules.validate_code(code)
        campaign_id, influencer_id = self._coupon_owner(scope, campaign_id, influencer_id)
        if self._taken_codes(scope.account_id, [coupon_rules.normalize_code(value)]):
            raise ConflictError(f"coupon code {value!r} already exists (codes are case-insensitive)", field="code")
        coupon = self._new_coupon(scope.account_id, value, campaign_id, influencer_id)
        self.session.add(coupon)
        self._flush(f"coupon code {value!r} already exists (codes are case-insensitive)", "code")
        return coupon

    def _count_with_prefix(self, account_id: str, spec: coupon_rules.CodeSpec) -> int:
        prefix = coupon_rules.normalize_code(spec.prefix)
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = select(func.count()).where(
            Coupon.account_id == account_id,
            func.length(Coupon.code_normalized) == len(spec.prefix) + spec.length,
        )
        if prefix:
            query = query.where(Coupon.code_normalized.like(f"{escaped}%", escape="\\"))
        return int(self.session.scalar(query) or 0)

    def generate_coupons(
        self,
        actor: Actor,
        *,
        count: int,
        prefix: str = "",
        length: int = 8,
        charset: str = "alnum",
        exclude_ambiguous: bool = True,
        custom_charset: str | None = None,
        campaign_id: str | None = None,
        influencer_id: str | None = None,
    ) -> list[Coupon]:
        scope = writer_scope(actor)
        spec = coupon_rules.build_spec(
            prefix=prefix,
            length=length,
            charset=charset,
            exclude_ambiguous=exclude_ambiguous,
            custom_charset=custom_charset,
        )
        coupon_rules.check_capacity(spec, count, self._count_with_prefix(scope.account_id, spec))
        campaign_id, influencer_id = self._coupon_owner(scope, campaign_id, influencer_id)
        codes = coupon_rules.generate_unique(spec, count, lambda keys: self._taken_codes(scope.account_id, keys))
        created = [self._new_coupon(scope.account_id, code, campaign_id, influencer_id) for code in codes]
        self.session.add_all(created)
        self._flush("another request took some of these codes at the same moment; retry")
        return created

    def list_coupons(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        campaign_id: str | None = None,
        influencer_id: str | None = None,
        generic: bool | None = None,
        code: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> PageResult[Coupon]:
        scope = scope_of(actor)
        query = select(Coupon).where(Coupon.account_id == scope.account_id)
        if scope.restricted:
            query = query.where(Coupon.influencer_id == scope.influencer_id)
        if status:
            query = query.where(Coupon.status == _check_choice(status, COUPON_STATUSES, "status"))
        if campaign_id:
            query = query.where(Coupon.campaign_id == campaign_id)
        if influencer_id:
            query = query.where(Coupon.influencer_id == influencer_id)
        if generic is not None:
            query = query.where(Coupon.influencer_id.is_(None) if generic else Coupon.influencer_id.is_not(None))
        if code:
            query = query.where(Coupon.code_normalized == coupon_rules.normalize_code(code))
        return self._page(query, Coupon, cursor, limit)

    def get_coupon(self, actor: Actor, coupon_id: str) -> Coupon:
        return self._coupon(scope_of(actor), coupon_id)

    def invalidate_coupon(self, actor: Actor, coupon_id: str) -> Coupon:
        coupon = self._coupon(writer_scope(actor), coupon_id)
        if coupon.status != "invalidated":
            coupon.status = "invalidated"
            coupon.invalidated_at = self.now()
            self.session.flush()
        return coupon

    def regenerate_coupon(
        self,
        actor: Actor,
        coupon_id: str,
        *,
        code: str | None = None,
        prefix: str = "",
        length: int = 8,
        charset: str = "alnum",
        exclude_ambiguous: bool = True,
    ) -> tuple[Coupon, Coupon]:
        """A new code with the same owner; the old one is invalidated. Returns (new, old)."""
        scope = writer_scope(actor)
        old = self._coupon(scope, coupon_id)
        if old.status == "invalidated":
            raise ConflictError("an invalidated coupon cannot be regenerated")
        if code:
            value = coupon_rules.validate_code(code)
            if self._taken_codes(scope.account_id, [coupon_rules.normalize_code(value)]):
                raise ConflictError(f"coupon code {value!r} already exists (codes are case-insensitive)", field="code")
        else:
            spec = coupon_rules.build_spec(
                prefix=prefix, length=length, charset=charset, exclude_ambiguous=exclude_ambiguous
            )
            coupon_rules.check_capacity(spec, 1, self._count_with_prefix(scope.account_id, spec))
            value = coupon_rules.generate_unique(spec, 1, lambda keys: self._taken_codes(scope.account_id, keys))[0]
        new = self._new_coupon(scope.account_id, value, old.campaign_id, old.influencer_id)
        self.session.add(new)
        old.status = "invalidated"
        old.invalidated_at = self.now()
        old.replaced_by_id = new.id
        self._flush(f"coupon code {value!r} already exists (codes are case-insensitive)", "code")
        return new, old

    # -- tracking links ------------------------------------------------------------------
    def _link(self, scope: Scope, link_id: str) -> TrackingLink:
        link = self.session.get(TrackingLink, link_id)
        if link is None or link.account_id != scope.account_id:
            raise NotFoundError("link not found")
        if scope.restricted and link.influencer_id != scope.influencer_id:
            raise NotFoundError("link not found")
        return link

    def _free_link_code(self) -> str:
        for _ in range(_LINK_CODE_ATTEMPTS):
            code = link_rules.generate_code()
            if self.session.scalar(select(TrackingLink.id).where(TrackingLink.code == code)) is None:
                return code
        raise ConflictError("could not allocate a link code; retry")  # ~never: 31^8 codes

    def create_link(
        self,
        actor: Actor,
        *,
        campaign_id: str,
        influencer_id: str,
        destination_url: str | None = None,
        forward_utms: bool = True,
        default_utms: bool = True,
    ) -> TrackingLink:
        scope = writer_scope(actor)
        campaign = self._campaign(scope, campaign_id)
        influencer = self._influencer(scope, influencer_id)
        raw = destination_url or campaign.default_destination_url
        if not raw:
            raise InvalidInputError(
                "destination_url is required (the campaign has no default destination)", field="destination_url"
            )
        destination = link_rules.validate_destination(raw)
        if default_utms:
            destination = link_rules.with_default_utms(destination, source=influencer.handle, campaign=campaign.slug)
            if len(destination) > link_rules.MAX_URL_LENGTH:
                raise InvalidInputError("destination URL is too long once UTMs are added", field="destination_url")
        self._ensure_assignment(scope.account_id, campaign.id, influencer.id)
        link = TrackingLink(
            id=self.ids.new("lnk"),
            account_id=scope.account_id,
            campaign_id=campaign.id,
            influencer_id=influencer.id,
            code=self._free_link_code(),
            destination_url=destination,
            forward_utms=forward_utms,
            status="active",
            created_at=self.now(),
        )
        self.session.add(link)
        self._flush("that link code is taken; retry")
        return link

    def list_links(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        campaign_id: str | None = None,
        influencer_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> PageResult[TrackingLink]:
        scope = scope_of(actor)
        query = select(TrackingLink).where(TrackingLink.account_id == scope.account_id)
        if scope.restricted:
            query = query.where(TrackingLink.influencer_id == scope.influencer_id)
        if status:
            query = query.where(TrackingLink.status == _check_choice(status, LINK_STATUSES, "status"))
        if campaign_id:
            query = query.where(TrackingLink.campaign_id == campaign_id)
        if influencer_id:
            query = query.where(TrackingLink.influencer_id == influencer_id)
        return self._page(query, TrackingLink, cursor, limit)

    def get_link(self, actor: Actor, link_id: str) -> TrackingLink:
        return self._link(scope_of(actor), link_id)

    def set_link_status(self, actor: Actor, link_id: str, *, active: bool) -> TrackingLink:
        link = self._link(writer_scope(actor), link_id)
        if active and link.replaced_by_id is not None:
            raise ConflictError("this link was regenerated; enable its replacement instead")
        link.status = "active" if active else "disabled"
        link.disabled_at = None if active else self.now()
        self.session.flush()
        self._forget_links([link.code])
        return link

    def regenerate_link(self, actor: Actor, link_id: str) -> tuple[TrackingLink, TrackingLink]:
        """A new code for the same destination; the old code is disabled (410). Returns (new, old)."""
        scope = writer_scope(actor)
        old = self._link(scope, link_id)
        new = TrackingLink(
            id=self.ids.new("lnk"),
            account_id=scope.account_id,
            campaign_id=old.campaign_id,
            influencer_id=old.influencer_id,
            code=self._free_link_code(),
            destination_url=old.destination_url,
            forward_utms=old.forward_utms,
            status="active",
            created_at=self.now(),
        )
        self.session.add(new)
        old.status = "disabled"
        old.disabled_at = self.now()
        old.replaced_by_id = new.id
        self._flush("that link code is taken; retry")
        self._forget_links([old.code])
        return new, old

    def _forget_links(self, codes: Iterable[str] | Select[Any]) -> None:
        """Drop codes from this process's redirect cache (other processes expire within the TTL)."""
        from multibuzz.redirect.cache import link_cache

        if isinstance(codes, Select):
            codes = list(self.session.scalars(codes))
        for code in codes:
            link_cache.forget(code)
