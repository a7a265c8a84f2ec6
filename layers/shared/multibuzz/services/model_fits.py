"""Fit the data-driven models (Markov, Shapley) per account from its journeys, versioned.

A journey is one person's (identity's, else visitor's) chronological channels:
for every conversion, the non-bot sessions inside the lookback before it
(converting); for people without a conversion in the window, all their
sessions (non-converting). Journeys come from a trailing window (default 90 days).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from multibuzz.bootstrap import Container
from multibuzz.db.models import Account, Conversion, ModelFit, Visitor, VisitSession
from multibuzz.domain.attribution import Journey, fit_markov, fit_shapley
from multibuzz.jobs.registry import job
from multibuzz.services.attribution import DEFAULT_LOOKBACK_DAYS, fit_cache


def account_journeys(
    session: Session, account_id: str, since: datetime, until: datetime, lookback_days: int
) -> list[Journey]:
    touches: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    person_of_visitor: dict[str, str] = {}
    rows = session.execute(
        select(VisitSession.visitor_id, Visitor.identity_id, VisitSession.started_at, VisitSession.channel)
        .join(Visitor, Visitor.id == VisitSession.visitor_id)
        .where(
            VisitSession.account_id == account_id,
            VisitSession.started_at >= since - timedelta(days=lookback_days),
            VisitSession.started_at <= until,
            VisitSession.is_bot.is_(False),
        )
    )
    for visitor_id, identity_id, started_at, channel in rows:
        person = identity_id or visitor_id
        person_of_visitor[visitor_id] = person
        touches[person].append((started_at, channel))
    for path in touches.values():
        path.sort()

    journeys: list[Journey] = []
    converted_people: set[str] = set()
    conversions = session.execute(
        select(Conversion.visitor_id, Conversion.identity_id, Conversion.occurred_at).where(
            Conversion.account_id == account_id, Conversion.occurred_at >= since, Conversion.occurred_at <= until
        )
    )
    for converting_visitor, converting_identity, occurred_at in conversions:
        who = converting_identity or person_of_visitor.get(converting_visitor or "") or converting_visitor
        if who is None:
            continue
        person = who
        converted_people.add(person)
        start = occurred_at - timedelta(days=lookback_days)
        channels = tuple(c for at, c in touches.get(person, []) if start <= at <= occurred_at)
        journeys.append(Journey(channels or ("direct",), converted=True))
    for person, path in touches.items():
        if person not in converted_people:
            in_window = tuple(c for at, c in path if at >= since)
            if in_window:
                journeys.append(Journey(in_window, converted=False))
    return journeys


def refit_account(
    session: Session,
    container: Container,
    account_id: str,
    *,
    models: Sequence[str] = ("markov", "shapley"),
    window_days: int = 90,
) -> list[ModelFit]:
    settings = dict(session.scalar(select(Account.settings).where(Account.id == account_id)) or {})
    lookback = int(settings.get("lookback_days") or DEFAULT_LOOKBACK_DAYS)
    now = container.clock.now()
    journeys = account_journeys(session, account_id, now - timedelta(days=window_days), now, lookback)
    fits: list[ModelFit] = []
    for model in models:
        fitted = fit_markov(journeys, fitted_at=now) if model == "markov" else fit_shapley(journeys, fitted_at=now)
        latest = session.scalar(
            select(func.max(ModelFit.version)).where(ModelFit.account_id == account_id, ModelFit.model == model)
        )
        fit = ModelFit(
            id=container.ids.new("fit"),
            account_id=account_id,
            model=model,
            version=(latest or 0) + 1,
            fitted_at=now,
            window_days=window_days,
            journeys=fitted.journeys,
            conversions=fitted.conversions,
            weights=fitted.to_dict(),
            params={"lookback_days": lookback},
        )
        session.add(fit)
        fits.append(fit)
    session.flush()
    fit_cache.invalidate(account_id)
    return fits


@job("multibuzz.refit_models")
def refit_all_accounts(container: Container, detail: dict[str, Any]) -> dict[str, Any]:
    """The scheduled refit: every active account, one transaction each (one failure does not stop the rest)."""
    window = int(detail.get("window_days") or 90)
    with container.session() as session:
        account_ids = list(session.scalars(select(Account.id).where(Account.status == "active")))
    done, failed = 0, []
    for account_id in account_ids:
        with container.session() as session:
            try:
                refit_account(session, container, account_id, window_days=window)
                session.commit()
                done += 1
            except Exception:
                session.rollback()
                failed.append(account_id)
    return {"accounts_refit": done, "accounts_failed": failed}
