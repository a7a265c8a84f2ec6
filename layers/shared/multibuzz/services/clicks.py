"""Store clicks from the clicks queue, and read them back for the management API.

Storing (the consumer side):
- idempotent: the click id is minted by the redirect and is the primary key; a redelivered message
  finds its row and does nothing;
- bots: HEAD requests (``head``), link-preview fetchers (``preview``), browser prefetches
  (``prefetch``) and crawlers per ``parse_user_agent`` (``crawler``) are stored with ``is_bot`` and
  never count as clicks or unique clicks;
- unique clicks: the first human click per (link, visitor hash, clock hour) — the visitor hash is a
  keyed hash of the full IP and user agent. Fixed hour buckets keyed by a primary key make the count
  of unique clicks independent of delivery order and safe under concurrent consumers. Raw clicks
  are always kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from multibuzz.clock import Clock, ensure_utc
from multibuzz.db.models.influencer import Click, ClickDedup, TrackingLink
from multibuzz.domain.links import is_link_preview
from multibuzz.domain.useragents import parse_user_agent
from multibuzz.services.context import Actor
from multibuzz.services.influencers import scope_of
from multibuzz.services.pagination import PageResult, check_limit, decode_cursor


def bot_reason(method: str, user_agent: str | None, prefetch: bool, crawler: bool) -> str | None:
    if method.upper() == "HEAD":
        return "head"
    if is_link_preview(user_agent):
        return "preview"
    if prefetch:
        return "prefetch"
    if crawler:
        return "crawler"
    return None


def hour_bucket(moment: datetime) -> datetime:
    return ensure_utc(moment).replace(minute=0, second=0, microsecond=0)


def _text(value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:limit]


def record_click(session: Session, clock: Clock, account_id: str, payload: dict[str, Any]) -> Click | None:
    """Store one click message. Returns the stored row, or None when it was already stored / not ours."""
    click_id = str(payload["click_id"])
    if session.get(Click, click_id) is not None:
        return None
    link = session.get(TrackingLink, str(payload["link_id"]))
    if link is None or link.account_id != account_id:
        return None  # the link was deleted (account removed): nothing to attach the click to
    occurred_at = ensure_utc(datetime.fromisoformat(str(payload["occurred_at"])))
    user_agent = _text(payload.get("user_agent"), 512)
    device = parse_user_agent(user_agent)
    reason = bot_reason(str(payload.get("method") or "GET"), user_agent, bool(payload.get("prefetch")), device.is_bot)
    visitor_hash = str(payload.get("visitor_hash") or "")[:64]
    click = Click(
        id=click_id,
        account_id=account_id,
        link_id=link.id,
        campaign_id=link.campaign_id,
        influencer_id=link.influencer_id,
        code=link.code,
        occurred_at=occurred_at,
        method=str(payload.get("method") or "GET")[:8],
        user_agent=user_agent,
        device_type="bot" if reason else device.device_type,
        browser=_text(device.browser, 50),
        browser_version=_text(device.browser_version, 30),
        os=_text(device.os, 50),
        os_version=_text(device.os_version, 30),
        is_bot=reason is not None,
        bot_reason=reason,
        referrer=_text(payload.get("referrer"), 2048),
        ip=_text(payload.get("ip"), 64),
        country=_text(payload.get("country"), 2),
        city=_text(payload.get("city"), 100),
        destination_url=_text(payload.get("destination_url"), 4096),
        outside_live_window=bool(payload.get("outside_live_window")),
        used_fallback=bool(payload.get("used_fallback")),
        visitor_hash=visitor_hash,
        unique_click=False,
        received_at=clock.now(),
    )
    if reason is None:
        bucket = hour_bucket(occurred_at)
        taken = session.get(ClickDedup, (link.id, visitor_hash, bucket))
        if taken is None:
            session.add(
                ClickDedup(
                    link_id=link.id, visitor_hash=visitor_hash, hour=bucket, account_id=account_id, click_id=click_id
                )
            )
            click.unique_click = True
    session.add(click)
    session.flush()  # a concurrent duplicate fails here: the message is retried and then finds its row
    return click


# -- reading -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClickFilters:
    link_id: str | None = None
    campaign_id: str | None = None
    influencer_id: str | None = None
    is_bot: bool | None = None
    unique: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(actor: Actor, filters: ClickFilters) -> Any:
    scope = scope_of(actor)
    query = select(Click).where(Click.account_id == scope.account_id)
    if scope.restricted:
        query = query.where(Click.influencer_id == scope.influencer_id)
    if filters.link_id:
        query = query.where(Click.link_id == filters.link_id)
    if filters.campaign_id:
        query = query.where(Click.campaign_id == filters.campaign_id)
    if filters.influencer_id:
        query = query.where(Click.influencer_id == filters.influencer_id)
    if filters.is_bot is not None:
        query = query.where(Click.is_bot.is_(filters.is_bot))
    if filters.unique is not None:
        query = query.where(Click.unique_click.is_(filters.unique))
    if filters.since is not None:
        query = query.where(Click.occurred_at >= ensure_utc(filters.since))
    if filters.until is not None:
        query = query.where(Click.occurred_at < ensure_utc(filters.until))
    return query


def list_clicks(
    session: Session, actor: Actor, filters: ClickFilters, *, cursor: str | None = None, limit: int = 50
) -> PageResult[Click]:
    check_limit(limit)
    query = _filtered(actor, filters)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Click.id < after)
    rows = list(session.scalars(query.order_by(Click.id.desc()).limit(limit + 1)))
    return PageResult.from_rows(rows, limit)


def summarize_clicks(session: Session, actor: Actor, filters: ClickFilters) -> dict[str, int]:
    """Clicks (humans), unique clicks, and bot hits (HEAD, previews, prefetches, crawlers)."""
    sub = _filtered(actor, filters).subquery()

    def count_if(condition: Any) -> Any:  # portable: MariaDB has no COUNT(*) FILTER (WHERE …)
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = session.execute(
        select(
            count_if(sub.c.is_bot.is_(False)),
            count_if(sub.c.unique_click.is_(True)),
            count_if(sub.c.is_bot.is_(True)),
        )
    ).one()
    return {"clicks": int(row[0] or 0), "unique_clicks": int(row[1] or 0), "bot_hits": int(row[2] or 0)}
