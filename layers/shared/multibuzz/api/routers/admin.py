"""Platform operations (platform admins only): totals, queue depths, dead letters and redrive, recent
ingestion errors, and coupons generated into any account."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import func, select

from multibuzz import topology
from multibuzz.api.routers.coupons import GeneratedOut, GenerateIn
from multibuzz.api.routers.coupons import _out as coupon_out
from multibuzz.db.models import Account, Conversion
from multibuzz.db.models.reports import ReportRollup
from multibuzz.errors import NotFoundError, PermissionDeniedError
from multibuzz.http.deps import ContainerDep, CurrentActor, SessionDep
from multibuzz.observability import get_logger
from multibuzz.services.context import Actor
from multibuzz.services.influencers import InfluencerService

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
logger = get_logger()


def platform_admin(actor: CurrentActor) -> Actor:
    if not actor.is_platform_admin:
        raise PermissionDeniedError("platform admins only")
    return actor


AdminActor = Annotated[Actor, Depends(platform_admin)]


def _queue(name: str) -> str:
    if name not in {spec.name for spec in topology.QUEUES}:
        raise NotFoundError(f"no queue named {name!r}")
    return name


@router.get("/overview")
def overview(admin: AdminActor, session: SessionDep, container: ContainerDep) -> dict[str, Any]:
    """Active accounts, this month's events and conversions (from the rollups), every queue's depths."""
    now = container.clock.now()
    month = now.date().replace(day=1)

    def monthly(metric: str) -> Decimal:
        total = session.scalar(
            select(func.sum(ReportRollup.value)).where(
                ReportRollup.grain == "day",
                ReportRollup.dimension == "all",
                ReportRollup.metric == metric,
                ReportRollup.day >= month,
            )
        )
        return Decimal(total or 0)

    queues = []
    for spec in topology.QUEUES:
        entry: dict[str, Any] = {"queue": spec.name, "depth": None, "dead_letters": None}
        try:
            entry["depth"] = container.queue_admin.depth(spec.name)
            entry["dead_letters"] = container.queue_admin.dead_letter_depth(spec.name)
        except Exception as exc:  # one unreachable queue must not hide the others
            logger.warning("queue depth unavailable", extra={"queue": spec.name}, exc_info=True)
            entry["error"] = type(exc).__name__
        queues.append(entry)
    active = session.scalar(select(func.count()).select_from(Account).where(Account.status == "active"))
    return {
        "at": now.astimezone(UTC).isoformat(),
        "month_from": month.isoformat(),
        "accounts_active": int(active or 0),
        "events_this_month": int(monthly("events")),
        "conversions_this_month": int(monthly("conversions")),
        "revenue_this_month_by_currency": _revenue_by_currency(session, month),
        "queues": queues,
    }


def _revenue_by_currency(session: SessionDep, month: Any) -> dict[str, str]:
    rows = session.execute(
        select(Account.currency, func.sum(ReportRollup.value))
        .join(Account, Account.id == ReportRollup.account_id)
        .where(
            ReportRollup.grain == "day",
            ReportRollup.dimension == "all",
            ReportRollup.metric == "revenue",
            ReportRollup.day >= month,
        )
        .group_by(Account.currency)
    ).all()
    return {currency: str(Decimal(total or 0).quantize(Decimal("0.01"))) for currency, total in rows}


@router.get("/dlq/{queue}")
def dead_letters(
    queue: str,
    admin: AdminActor,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """What the queue's dead-letter store holds (read, not consumed)."""
    name = _queue(queue)
    letters = container.queue_admin.dead_letters(name, limit)
    return {
        "queue": name,
        "count": len(letters),
        "data": [
            {
                "message_id": d.message_id,
                "body": d.body,
                "group_id": d.group_id,
                "receive_count": d.receive_count,
                "reason": d.reason,
                "dead_at": datetime.fromtimestamp(d.dead_at, UTC).isoformat() if d.dead_at else None,
            }
            for d in letters
        ],
    }


@router.post("/dlq/{queue}/redrive")
def redrive(queue: str, admin: AdminActor, container: ContainerDep) -> dict[str, Any]:
    """Put every dead letter back on its queue, once."""
    name = _queue(queue)
    moved = container.queue_admin.redrive(name)
    logger.info("dead letters re-driven", extra={"queue": name, "count": moved, "by": admin.user_id})
    return {"queue": name, "redriven": moved}


@router.get("/ingestion-errors")
def ingestion_errors(
    admin: AdminActor, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    """Recent conversions that could not be attributed (with the reason), newest first, every account.

    Events refused at the API are answered to their sender (422 or per-event ``errors``) and not stored;
    messages the consumer gave up on are in the dead-letter stores (``/admin/dlq/{queue}``)."""
    rows = session.scalars(
        select(Conversion).where(Conversion.status == "failed").order_by(Conversion.received_at.desc()).limit(limit)
    ).all()
    return {
        "data": [
            {
                "account_id": c.account_id,
                "conversion_id": c.id,
                "received_at": c.received_at.isoformat(),
                "reason": ((c.attribution_meta or {}).get("failure") or {}).get("reason"),
            }
            for c in rows
        ]
    }


@router.post(
    "/accounts/{account_id}/coupons/generate", response_model=GeneratedOut, status_code=status.HTTP_201_CREATED
)
def force_generate_coupons(
    account_id: str, body: GenerateIn, admin: AdminActor, session: SessionDep, container: ContainerDep
) -> GeneratedOut:
    """Generate coupons into any account (support): the same rules as ``POST /coupons/generate``."""
    if session.get(Account, account_id) is None:
        raise NotFoundError("account not found")
    acting = Actor(admin.user_id, admin.email, True, account_id, None)
    service = InfluencerService(session, container.clock, container.ids, container.settings.base_url)
    created = service.generate_coupons(acting, **body.model_dump())
    logger.info("coupons force-generated", extra={"account_id": account_id, "count": len(created), "by": admin.user_id})
    return GeneratedOut(count=len(created), data=[coupon_out(c) for c in created])
