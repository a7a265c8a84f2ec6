"""Frozen reference copy of the original Fraction-based attribution engine (the oracle for the fast one).

Verbatim copy of ``rounding.py``, ``heuristics.py`` and ``engine.py`` as they were before the integer-arithmetic
rewrite (only the imports are merged and ``heuristics.`` prefixes dropped). Do not optimise this file: tests and
``bench/bench_engine.py`` compare the production engine against it, output for output.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from multibuzz.clock import ensure_utc
from multibuzz.domain.attribution.markov import MarkovModel
from multibuzz.domain.attribution.shapley import ShapleyModel
from multibuzz.domain.attribution.types import (
    DIRECT_CHANNEL,
    FIRST_TOUCH,
    LAST_NON_DIRECT,
    LAST_TOUCH,
    LINEAR,
    MARKOV,
    MODELS,
    PARTICIPATION,
    POSITION_BASED,
    SHAPLEY,
    TIME_DECAY,
    W_SHAPED,
    Credit,
    ModelResult,
    Touch,
)

# --- rounding.py -------------------------------------------------------------------------------------------------
#: Decimal places of a credit fraction (``0.33333334`` style). 1e-8 of a 1e9 revenue is 10 minor units at worst
#: *before* the revenue's own largest-remainder step, which restores the exact total anyway.
CREDIT_PLACES: Final = 8
_CREDIT_SCALE: Final = 10**CREDIT_PLACES
_CREDIT_EXP: Final = Decimal(1).scaleb(-CREDIT_PLACES)

#: ISO 4217 minor units that differ from the default of 2 (ISO 4217 list, 2024 edition).
_MINOR_UNITS: Final[dict[str, int]] = {
    # zero decimals
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    # four decimals
    "CLF": 4,
    "UYW": 4,
}
DEFAULT_MINOR_UNITS: Final = 2

Weight = float | int | Fraction | Decimal


def minor_units(currency: str) -> int:
    """Number of decimal places of ``currency`` (case-insensitive); 2 for any code not in the table."""
    return _MINOR_UNITS.get(currency.strip().upper(), DEFAULT_MINOR_UNITS)


def _largest_remainder(shares: Sequence[Fraction], total: int) -> list[int]:
    """Integers ``n_i`` with ``sum(n_i) == total`` and ``|n_i - shares_i| < 1`` (shares non-negative).

    Floors first, then one extra unit to each of the ``total - sum(floors)`` largest remainders, ties to the
    lower index.
    """
    floors = [math.floor(s) for s in shares]
    missing = total - sum(floors)
    if missing < 0 or missing > len(shares):
        raise ValueError("shares do not add up to the total")
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - floors[i]), i))
    for i in order[:missing]:
        floors[i] += 1
    return floors


def _to_fraction(value: Weight) -> Fraction:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"weight must be finite, got {value!r}")
    return Fraction(value)


def quantize_credits(weights: Sequence[Weight]) -> list[Decimal]:
    """Normalise non-negative ``weights`` and round them to :data:`CREDIT_PLACES` places summing to exactly 1.

    ``[]`` gives ``[]``. Raises ``ValueError`` on a negative, non-finite or all-zero weight vector.
    """
    if not weights:
        return []
    exact = [_to_fraction(w) for w in weights]
    if any(w < 0 for w in exact):
        raise ValueError("weights must be non-negative")
    total = sum(exact, Fraction(0))
    if total == 0:
        raise ValueError("weights must not all be zero")
    units = _largest_remainder([w * _CREDIT_SCALE / total for w in exact], _CREDIT_SCALE)
    return [Decimal(u).scaleb(-CREDIT_PLACES) for u in units]


def unit_credit() -> Decimal:
    """``Decimal(1)`` at credit precision (``1.00000000``), the participation credit."""
    return Decimal(1).quantize(_CREDIT_EXP)


def allocate_revenue(credits: Sequence[Decimal], revenue: Decimal, currency: str) -> list[Decimal]:
    """Split ``revenue`` over ``credits`` in the minor unit of ``currency``.

    * ``revenue`` is first rounded half-even to the currency's minor unit (``Decimal("10.005")`` USD becomes
      ``10.00``); callers that already hold minor units are unaffected.
    * Credits summing to 1 give parts summing to exactly the (rounded) revenue. In general the parts sum to
      ``round(revenue * sum(credits))``; for participation (every credit 1) each touch gets the full revenue.
    * Zero revenue gives zeros. A negative revenue (refund) is allocated as the mirror image of the same positive
      amount, so refunding a sale in full reverses its credits exactly, touch by touch.
    """
    places = minor_units(currency)
    exp = Decimal(1).scaleb(-places)
    rounded = Decimal(revenue).quantize(exp)  # default context rounding is ROUND_HALF_EVEN
    if not credits:
        return []
    fractions = [Fraction(c) for c in credits]
    if any(c < 0 for c in fractions):
        raise ValueError("credits must be non-negative")
    minor = int(rounded.scaleb(places))
    sign = -1 if minor < 0 else 1
    shares = [c * abs(minor) for c in fractions]
    target = round(sum(shares, Fraction(0)))
    parts = _largest_remainder(shares, target)
    return [Decimal(sign * p).scaleb(-places).quantize(exp) for p in parts]


# --- heuristics.py -----------------------------------------------------------------------------------------------

_SECONDS_PER_DAY: Final = 86_400.0

_U_END: Final = Fraction(2, 5)  # 40% first, 40% last
_U_MIDDLE: Final = Fraction(1, 5)  # 20% over the middle
_W_KEY: Final = Fraction(3, 10)  # 30% first, lead, last
_W_REST: Final = Fraction(1, 10)  # 10% over the rest


def _one_hot(n: int, index: int) -> list[Fraction]:
    weights = [Fraction(0)] * n
    if n:
        weights[index] = Fraction(1)
    return weights


def first_touch(touches: Sequence[Touch]) -> list[Fraction]:
    """100% to the first touch."""
    return _one_hot(len(touches), 0)


def last_touch(touches: Sequence[Touch]) -> list[Fraction]:
    """100% to the last touch."""
    return _one_hot(len(touches), len(touches) - 1)


def last_non_direct(touches: Sequence[Touch]) -> list[Fraction]:
    """100% to the last touch whose channel is not ``"direct"``; all-direct journeys fall back to the last touch."""
    index = len(touches) - 1
    for i in range(len(touches) - 1, -1, -1):
        if touches[i].channel != DIRECT_CHANNEL:
            index = i
            break
    return _one_hot(len(touches), index)


def linear(touches: Sequence[Touch]) -> list[Fraction]:
    """Equal split: ``1/n`` per touch."""
    n = len(touches)
    return [Fraction(1, n)] * n


def time_decay(touches: Sequence[Touch], conversion_at: datetime, half_life_days: float = 7.0) -> list[float]:
    """``w_i = 2^(-Δt_i / half_life)`` with ``Δt_i = conversion_at - occurred_at_i``, normalised later.

    Evaluated as ``2^(-(Δt_i - min Δt) / half_life)``, identical after normalisation but free of underflow for
    very old journeys. A touch after the conversion (negative Δt, clock skew) counts as Δt = 0.
    """
    if not half_life_days > 0:
        raise ValueError("half_life_days must be positive")
    if not touches:
        return []
    converted = ensure_utc(conversion_at)
    ages = [max((converted - ensure_utc(t.occurred_at)).total_seconds(), 0.0) / _SECONDS_PER_DAY for t in touches]
    youngest = min(ages)
    return [2.0 ** (-(age - youngest) / half_life_days) for age in ages]


def position_based(touches: Sequence[Touch]) -> list[Fraction]:
    """U-shaped: 40% first, 40% last, 20% split equally over the middle; 1 touch 100%, 2 touches 50/50."""
    n = len(touches)
    if n <= 2:
        return linear(touches)
    middle = _U_MIDDLE / (n - 2)
    return [_U_END] + [middle] * (n - 2) + [_U_END]


def lead_index(touches: Sequence[Touch]) -> int | None:
    """Position of the earliest touch flagged ``is_lead``, or ``None``."""
    return next((i for i, t in enumerate(touches) if t.is_lead), None)


def w_shaped(touches: Sequence[Touch]) -> list[Fraction]:
    """30% first, 30% lead-creation touch, 30% last, 10% split equally over the rest.

    * The lead touch is the earliest touch with ``is_lead``. It is *distinct* only when it is neither the first nor
      the last touch; otherwise (or without a lead touch, or with fewer than 3 touches) the model is exactly
      :func:`position_based` (u-shaped).
    * Three touches with the lead in the middle have no "rest": the 10% is shared equally by the three key touches,
      i.e. 1/3 each (as Bizible/Marketo do).
    """
    n = len(touches)
    lead = lead_index(touches)
    if lead is None or lead in (0, n - 1):
        return position_based(touches)
    if n == 3:
        return [Fraction(1, 3)] * 3
    rest = _W_REST / (n - 3)
    weights = [rest] * n
    weights[0] = weights[lead] = weights[n - 1] = _W_KEY
    return weights


def participation(touches: Sequence[Touch]) -> list[Fraction]:
    """Full credit (1) to every touch; a touch is a session, so repeated channels each get 1. Not normalised."""
    return [Fraction(1)] * len(touches)


#: Heuristics that only need the ordered touches.
POSITIONAL: Final[dict[str, Callable[[Sequence[Touch]], list[Fraction]]]] = {
    FIRST_TOUCH: first_touch,
    LAST_TOUCH: last_touch,
    LAST_NON_DIRECT: last_non_direct,
    LINEAR: linear,
    POSITION_BASED: position_based,
    W_SHAPED: w_shaped,
    PARTICIPATION: participation,
}

# --- engine.py ---------------------------------------------------------------------------------------------------


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
        weights = time_decay(ordered, conversion_at, half_life_days)
    elif model in (MARKOV, SHAPLEY):
        fit = markov if model == MARKOV else shapley
        driven = data_driven_weights(ordered, fit.weights) if fit is not None else None
        if driven is None:
            return ModelResult(model, _credits(ordered, quantize_credits(linear(ordered))), "linear")
        weights = driven
    else:
        weights = POSITIONAL[model](ordered)
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
