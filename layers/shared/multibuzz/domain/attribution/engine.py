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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from multibuzz.clock import ensure_utc

from . import heuristics
from .markov import MarkovModel
from .rounding import allocate_revenue, quantize_credits, unit_credit
from .shapley import ShapleyModel
from .types import (
    LINEAR,
    MARKOV,
    MODELS,
    PARTICIPATION,
    SHAPLEY,
    TIME_DECAY,
    Credit,
    Fallback,
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


#: Journeys up to this many touches take their credit vectors from bounded memo caches: positional models depend
#: only on the model, the number of touches and one index (:func:`heuristics.positional_key`); data-driven ones
#: only on the weight vector, which a fit repeats for every journey with the same channel sequence. Rounding is a
#: pure function of the exact weights, so a cached vector is exactly the one that would be computed (credits have
#: 9 digits at most, so they are exact in any Decimal context with ``prec >= 9``). Bounded: at most 2 x 2048
#: vectors of at most 32 Decimals (a few MB at worst, typically well under 1 MB).
CACHED_MAX_TOUCHES: Final = 32


def data_driven_weights(touches: Sequence[Touch], channel_weights: Mapping[str, float]) -> list[float] | None:
    """Per-touch weights from fitted channel weights, or ``None`` when no channel present has positive weight."""
    per_channel: dict[str, int] = {}  # touches per channel, in order of first appearance
    for t in touches:
        per_channel[t.channel] = per_channel.get(t.channel, 0) + 1
    present = {c: max(float(channel_weights.get(c, 0.0)), 0.0) for c in per_channel}
    total = sum(present.values())
    if not touches or total <= 0.0:
        return None
    return [present[t.channel] / total / per_channel[t.channel] for t in touches]


@lru_cache(maxsize=2048)
def _positional_credits(model: str, n: int, key: int) -> tuple[Decimal, ...]:
    """Quantized credits of a positional model for ``n`` touches (``key``: :func:`heuristics.positional_key`)."""
    return tuple(quantize_credits(heuristics.POSITIONAL_BY_SHAPE[model](n, key)))


@lru_cache(maxsize=2048)
def _data_driven_credits(weights: tuple[float, ...]) -> tuple[Decimal, ...]:
    """Quantized credits of data-driven ``weights`` (equal float tuples have equal exact values)."""
    return tuple(quantize_credits(weights))


def _positional(model: str, ordered: Sequence[Touch]) -> Sequence[Decimal]:
    n = len(ordered)
    if n > CACHED_MAX_TOUCHES:
        return quantize_credits(heuristics.POSITIONAL[model](ordered))
    return _positional_credits(model, n, heuristics.positional_key(model, ordered))


def _slot_constructor(cls: type, names: tuple[str, str, str]) -> Callable[..., Any]:
    """Positional constructor of the frozen slots dataclass ``cls`` that writes its slots directly.

    A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``; for the ~30 credits of a
    conversion that costs more than the rest of building them. Writing the slot descriptors gives the identical
    object about twice as fast. Falls back to ``cls`` itself if the class is not a plain slots dataclass with
    exactly these fields (e.g. it gained a ``__post_init__``).
    """
    if tuple(f.name for f in fields(cls)) != names or hasattr(cls, "__post_init__") or "__slots__" not in vars(cls):
        return cls
    new = object.__new__
    set_0, set_1, set_2 = (vars(cls)[name].__set__ for name in names)

    def construct(a: Any, b: Any, c: Any) -> Any:
        obj: Any = new(cls)
        set_0(obj, a)
        set_1(obj, b)
        set_2(obj, c)
        return obj

    return construct


#: ``_new_credit(session_id, channel, credit) == Credit(session_id, channel, credit)``, faster (see above).
_new_credit: Callable[[str, str, Decimal], Credit] = _slot_constructor(Credit, ("session_id", "channel", "credit"))
#: ``_new_result(model, credits, fallback) == ModelResult(model, credits, fallback)``.
_new_result: Callable[[str, list[Credit], Fallback | None], ModelResult] = _slot_constructor(
    ModelResult, ("model", "credits", "fallback")
)


def _model_values(
    model: str,
    ordered: Sequence[Touch],
    conversion_at: datetime,
    half_life_days: float,
    markov: MarkovModel | None,
    shapley: ShapleyModel | None,
) -> tuple[Sequence[Decimal], Fallback | None]:
    """Credit values of ``model`` per ordered touch, and the fallback used (if any)."""
    if model == PARTICIPATION:
        return [unit_credit()] * len(ordered), None
    if not ordered:
        return [], None
    if model == TIME_DECAY:
        return quantize_credits(heuristics.time_decay(ordered, conversion_at, half_life_days)), None
    if model in (MARKOV, SHAPLEY):
        fit = markov if model == MARKOV else shapley
        driven = data_driven_weights(ordered, fit.weights) if fit is not None else None
        if driven is None:
            return _positional(LINEAR, ordered), "linear"
        if len(driven) > CACHED_MAX_TOUCHES:
            return quantize_credits(driven), None
        return _data_driven_credits(tuple(driven)), None
    return _positional(model, ordered), None


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
    session_ids = [t.session_id for t in ordered]
    channels = [t.channel for t in ordered]
    results: dict[str, ModelResult] = {}
    for model in models:
        values, fallback = _model_values(model, ordered, conversion_at, half_life_days, markov, shapley)
        results[model] = _new_result(model, list(map(_new_credit, session_ids, channels, values)), fallback)
    return results


def revenue_credits(result: ModelResult, revenue: Decimal, currency: str) -> list[Decimal]:
    """Revenue per credit of ``result`` (same order) in the minor unit of ``currency``.

    Sums to exactly the revenue (rounded to the minor unit) for every model but participation, where each touch
    gets the full revenue. Negative revenue (refund) mirrors the positive allocation; see
    :func:`~.rounding.allocate_revenue`.
    """
    return allocate_revenue([c.credit for c in result.credits], revenue, currency)
