"""Load one link snapshot with a single read (link ⋈ campaign ⋈ account). Core only: no ORM.

The three tables are described here as lightweight Core ``Table`` objects with just the columns the
redirect reads, so the redirect does not import (and configure) every ORM model at cold start. A test
checks these descriptions against the ORM models (tests/functional/test_redirect_handler.py).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Engine, MetaData, String, Table, Text, select

from multibuzz.domain.privacy import DEFAULT_IP_PRIVACY, IP_PRIVACY_MODES, account_salt
from multibuzz.redirect.cache import LinkSnapshot

_meta = MetaData()
_links = Table(
    "tracking_links",
    _meta,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40)),
    Column("campaign_id", String(40)),
    Column("influencer_id", String(40)),
    Column("code", String(32)),
    Column("destination_url", Text),
    Column("forward_utms", Boolean),
    Column("status", String(20)),
)
_campaigns = Table(
    "campaigns",
    _meta,
    Column("id", String(40), primary_key=True),
    Column("status", String(20)),
    Column("starts_at", DateTime),
    Column("ends_at", DateTime),
    Column("fallback_url", Text),
)
_accounts = Table(
    "accounts",
    _meta,
    Column("id", String(40), primary_key=True),
    Column("status", String(20)),
    Column("settings", Text),  # JSON, decoded here
)

_QUERY = (
    select(
        _links.c.id,
        _links.c.account_id,
        _links.c.campaign_id,
        _links.c.influencer_id,
        _links.c.code,
        _links.c.destination_url,
        _links.c.forward_utms,
        _links.c.status,
        _campaigns.c.status.label("campaign_status"),
        _campaigns.c.starts_at,
        _campaigns.c.ends_at,
        _campaigns.c.fallback_url,
        _accounts.c.status.label("account_status"),
        _accounts.c.settings,
    )
    .join(_campaigns, _campaigns.c.id == _links.c.campaign_id)
    .join(_accounts, _accounts.c.id == _links.c.account_id)
)


def _settings(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str | bytes):
        try:
            loaded = json.loads(raw)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def _utc(value: datetime | None) -> datetime | None:
    """Stored as naive UTC (see multibuzz.db.base.UTCDateTime)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_link(engine: Engine, code: str, server_secret: str) -> LinkSnapshot | None:
    with engine.connect() as conn:
        row = conn.execute(_QUERY.where(_links.c.code == code)).first()
    if row is None:
        return None
    settings = _settings(row.settings)
    privacy = settings.get("ip_privacy")
    return LinkSnapshot(
        link_id=row.id,
        account_id=row.account_id,
        campaign_id=row.campaign_id,
        influencer_id=row.influencer_id,
        code=row.code,
        destination_url=row.destination_url,
        forward_utms=bool(row.forward_utms),
        active=row.status == "active",
        campaign_status=row.campaign_status,
        starts_at=_utc(row.starts_at),
        ends_at=_utc(row.ends_at),
        fallback_url=row.fallback_url,
        account_active=row.account_status == "active",
        ip_privacy=privacy if privacy in IP_PRIVACY_MODES else DEFAULT_IP_PRIVACY,
        salt=account_salt(server_secret, row.account_id),
    )
