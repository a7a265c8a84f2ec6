"""Attribution report under another lookback: recompute the ten models for the conversions of a window.

The stored credits were computed with the account's lookback (``lookback_days`` and per-model
``model_lookback_days``) at attribution time. ``GET /api/v1/attributions?lookback_days=N`` answers "what if
every model had looked back N days": each conversion's touches are restricted to the N days before it and
the ten models run again through the consumer's own :func:`~multibuzz.services.attribution.compute` (same
engine, same half-life, same fitted Markov/Shapley parameters). Nothing is written.

A conversion whose stored credits already used N days for every model (or that is not ``attributed``) is
not recomputed: its stored credits are summed in SQL, as the stored report sums them. The work is bounded:
at most ``MAX_RECOMPUTED`` conversions in the window (stored or recomputed), else a 422 naming
``lookback_days``; journeys and stored sums are loaded ``CHUNK`` conversions at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from multibuzz.db.models import Account, AttributionCredit, Conversion
from multibuzz.domain.attribution import MODELS
from multibuzz.errors import InvalidInputError
from multibuzz.services.attribution import compute, load_journeys

MAX_RECOMPUTED = 2000
CHUNK = 500
GROUP_FIELDS = {"channel": "channel", "campaign": "utm_campaign", "source": "utm_source"}
Key = tuple[str, str, str | None]  # model, currency, group


def check_lookback(value: object) -> int | None:
    """``None`` or a whole number of days from 1 to 365, else a 422 naming ``lookback_days``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInputError("lookback_days must be a whole number from 1 to 365", field="lookback_days")
    try:
        days = int(str(value))
    except ValueError as exc:
        raise InvalidInputError("lookback_days must be a whole number from 1 to 365", field="lookback_days") from exc
    if not 1 <= days <= 365:
        raise InvalidInputError("lookback_days must be a whole number from 1 to 365", field="lookback_days")
    return days


def stored_sums(group_column: Any) -> Select[Any]:
    """Per (model, currency, group): the sums of the current credits (each conversion's
    ``attribution_version``) and the distinct conversions behind them; callers scope, window and group."""
    return select(
        AttributionCredit.model,
        Conversion.currency,
        group_column,
        func.sum(AttributionCredit.credit),
        func.sum(AttributionCredit.revenue_credit),
        func.count(func.distinct(Conversion.id)),
    ).join(
        Conversion,
        and_(
            Conversion.id == AttributionCredit.conversion_id,
            Conversion.attribution_version == AttributionCredit.version,
        ),
    )


def used_stored(conversion: Conversion, days: int) -> bool:
    """True when the stored credits are already the answer for ``days`` (or must stand: not ``attributed``)."""
    if conversion.status != "attributed":
        return True
    stored = (conversion.attribution_meta or {}).get("lookback_days") or {}
    return isinstance(stored, dict) and all(stored.get(m) == days for m in MODELS)


def recomputed_rows(
    session: Session, conversions: Sequence[Conversion], account_settings: dict[str, Any], days: int
) -> list[dict[str, Any]]:
    """Credit rows (as the consumer would store them) of every model with an N-day lookback; nothing written."""
    lookbacks = dict.fromkeys(MODELS, days)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(conversions), CHUNK):
        chunk = conversions[start : start + CHUNK]
        journeys = load_journeys(session, chunk, {c.id: days for c in chunk})
        for conversion in chunk:
            outcome = compute(session, conversion, account_settings, 0, journeys[conversion.id], lookbacks)
            rows.extend(outcome.rows)
    return rows


def _stored_sums(
    session: Session, conversions: Sequence[Conversion], group_by: str, model: str | None
) -> Iterable[tuple[Key, Decimal, Decimal, int]]:
    """The stored credits' sums per (model, currency, group), in SQL, ``CHUNK`` conversions at a time (the
    chunks are disjoint, so their distinct-conversion counts add up)."""
    column = getattr(AttributionCredit, GROUP_FIELDS[group_by])
    ids = [c.id for c in conversions]
    for start in range(0, len(ids), CHUNK):
        query = (
            stored_sums(column)
            .where(Conversion.id.in_(ids[start : start + CHUNK]))
            .group_by(AttributionCredit.model, Conversion.currency, column)
        )
        if model is not None:
            query = query.where(AttributionCredit.model == model)
        for row_model, currency, group, credits, revenue, touched in session.execute(query):
            yield (row_model, currency, group), Decimal(credits), Decimal(revenue), int(touched)


def totals(
    stored: Iterable[tuple[Key, Decimal, Decimal, int]],
    rows: Iterable[dict[str, Any]],
    currency_of: dict[str, str],
    group_by: str,
    model: str | None,
) -> dict[Key, tuple[Decimal, Decimal, int]]:
    """Stored sums plus recomputed rows: (model, currency, group) → (credits, revenue, distinct conversions),
    zero-credit groups dropped, exactly as the SQL of the stored path groups them."""
    field = GROUP_FIELDS[group_by]
    sums: dict[Key, list[Any]] = {}
    for key, credits, revenue, touched in stored:
        entry = sums.setdefault(key, [Decimal(0), Decimal(0), 0, set()])
        entry[0] += credits
        entry[1] += revenue
        entry[2] += touched
    for row in rows:
        if model is not None and row["model"] != model:
            continue
        key = (row["model"], currency_of[row["conversion_id"]], row[field])
        entry = sums.setdefault(key, [Decimal(0), Decimal(0), 0, set()])
        entry[0] += Decimal(row["credit"])
        entry[1] += Decimal(row["revenue_credit"])
        entry[3].add(row["conversion_id"])
    return {k: (c, r, n + len(ids)) for k, (c, r, n, ids) in sums.items() if c != 0}


def lookback_totals(
    session: Session, query: Any, account_id: str, days: int, group_by: str, model: str | None
) -> tuple[dict[Key, tuple[Decimal, Decimal, int]], int]:
    """Totals under ``days`` for the conversions ``query`` selects, and how many were recomputed."""
    conversions = list(
        session.scalars(
            query.where(Conversion.attribution_version > 0)
            .order_by(Conversion.occurred_at, Conversion.id)
            .limit(MAX_RECOMPUTED + 1)
        )
    )
    if len(conversions) > MAX_RECOMPUTED:
        raise InvalidInputError(
            f"lookback_days covers at most {MAX_RECOMPUTED} conversions; choose a shorter period",
            field="lookback_days",
        )
    stored = [c for c in conversions if used_stored(c, days)]
    todo = [c for c in conversions if not used_stored(c, days)]
    settings = dict(session.scalar(select(Account.settings).where(Account.id == account_id)) or {})
    currency_of = {c.id: c.currency for c in conversions}
    rows = recomputed_rows(session, todo, settings, days)
    return totals(_stored_sums(session, stored, group_by, model), rows, currency_of, group_by, model), len(todo)
