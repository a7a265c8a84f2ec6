"""Per-conversion attribution: all models side by side, exact Decimal credits.

Rules shared by every model:

* Touches may arrive in any order; they are sorted by ``(occurred_at, session_id, channel, is_lead)`` (UTC; naive
  datetimes are taken as UTC), so results never depend on input order and same-time touches are ordered by
  session id. ``session_id`` must be unique within one call (a touch *is* a session).
* An empty touch list gives every requested model an empty credit list; the caller credits ``direct`` itself.
* Credits are fractions with :data:`~.rounding.CREDIT_PLACES` places summing to exactly 1, except
  ``participation``, which gives every touch exactly 1.
* Data-driven models (``markov``, ``shapley``): each channel present gets the fitted weight of that channel,
  renormalised over the channels present, split equally over that channel's touches. Without a fit, or when the
  fit gives zero weight to every channel present (e.g. channels new since the fit), the result is linear and
  ``fallback="linear"``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from multibuzz.clock import ensure_utc

from . import heuristics
from .markov import MarkovModel
from .rounding import Weight, allocate_revenue, quantize_credits, unit_credit
from .shapley import ShapleyModel
from .types import (
    MARKOV,
    MODELS,
    PARTICIPATION,
    SHAPLEY,
    TIME_DECAY,
    Credit,
    ModelResult,
    Touch,
)


def _touch_key(touch: Touch) -> tuple[datetime, str, str, bool]:
    return (ensure_utc(touch.occurred_at), touch.session_id, touch.channel, touch.is_lead)


def order_touches(touches: Sequence[Touch]) -> list[Touch]:
    """Chronological order used by every model; raises ``ValueError`` on a repeated ``session_id``."""
    ordered = sorted(touches, key=_touch_key)
    if len({t.session_id for t in ordered}) != len(ordered):
        raise ValueError("session_id must be unique among the touches of one conversion")
    return ordered


def data_driven_weights(touches: Sequence[Touch], channel_weights: Mapping[str, float]) -> list[float] | None:
    """Per-touch weights from fitted channel weights, or ``None`` when no channel present has positive weight."""
    per_channel = Counter(t.channel for t in touches)
    present = {c: max(float(channel_weights.get(c, 0.0)), 0.0) for c in per_channel}
    total = sum(present.values())
    if not touches or total <= 0.0:
        return None
    return [present[t.channel] / total / per_channel[t.channel] for t in touches]


def _credits(touches: Sequence[Touch], values: Sequence[Decimal]) -> list[Credit]:
    return [Credit(t.session_id, t.channel, v) for t, v in zip(touches, values, strict=True)]


def _model_result(
    model: str,
    ordered: Sequence[Touch],
    conversion_at: datetime,
    half_life_days: float,
    markov: MarkovModel | None,
    shapley: ShapleyModel | None,
) -> ModelResult:
    if model == PARTICIPATION:
        return ModelResult(model, _credits(ordered, [unit_credit()] * len(ordered)))
    if not ordered:
        return ModelResult(model, [])
    weights: Sequence[Weight]
    if model == TIME_DECAY:
        weights = heuristics.time_decay(ordered, conversion_at, half_life_days)
    elif model in (MARKOV, SHAPLEY):
        fit = markov if model == MARKOV else shapley
        driven = data_driven_weights(ordered, fit.weights) if fit is not None else None
        if driven is None:
            return ModelResult(model, _credits(ordered, quantize_credits(heuristics.linear(ordered))), "linear")
        weights = driven
    else:
        weights = heuristics.POSITIONAL[model](ordered)
    return ModelResult(model, _credits(ordered, quantize_credits(weights)))


def attribute(
    touches: Sequence[Touch],
    conversion_at: datetime,
    *,
    models: Sequence[str] = MODELS,
    half_life_days: float = 7.0,
    markov: MarkovModel | None = None,
    shapley: ShapleyModel | None = None,
) -> dict[str, ModelResult]:
    """Credits of every requested model for one conversion, keyed by model name (in the order requested).

    Raises ``ValueError`` for an unknown model name, a non-positive half-life or a repeated session id.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown attribution model(s): {', '.join(unknown)}")
    if not half_life_days > 0:
        raise ValueError("half_life_days must be positive")
    ordered = order_touches(touches)
    return {m: _model_result(m, ordered, conversion_at, half_life_days, markov, shapley) for m in models}


def revenue_credits(result: ModelResult, revenue: Decimal, currency: str) -> list[Decimal]:
    """Revenue per credit of ``result`` (same order) in the minor unit of ``currency``.

    Sums to exactly the revenue (rounded to the minor unit) for every model but participation, where each touch
    gets the full revenue. Negative revenue (refund) mirrors the positive allocation; see
    :func:`~.rounding.allocate_revenue`.
    """
    return allocate_revenue([c.credit for c in result.credits], revenue, currency)
