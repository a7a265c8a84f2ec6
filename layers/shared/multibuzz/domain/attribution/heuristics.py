"""Rule-based weight functions (ARCHITECTURE.md section 3).

Every function takes the touches of one conversion **already in chronological order** (the engine sorts them by
``(occurred_at, session_id)``) and returns one non-negative weight per touch. Rational rules return exact
:class:`~fractions.Fraction` weights; time decay returns floats. Weights are normalised and rounded later by
:func:`~multibuzz.domain.attribution.rounding.quantize_credits`, so only their ratios matter (participation aside).

An empty touch list always yields ``[]``.

The positional rules depend only on the number of touches and at most one position (the credited touch, or the
w-shaped lead): :func:`positional_key` extracts that position and :data:`POSITIONAL_BY_SHAPE` rebuilds the same
weights from ``(n, key)``, which lets the engine cache their rounded credits per journey shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from fractions import Fraction
from typing import Final

from multibuzz.clock import ensure_utc

from .types import (
    DIRECT_CHANNEL,
    FIRST_TOUCH,
    LAST_NON_DIRECT,
    LAST_TOUCH,
    LINEAR,
    PARTICIPATION,
    POSITION_BASED,
    W_SHAPED,
    Touch,
)

_SECONDS_PER_DAY: Final = 86_400.0

_U_END: Final = Fraction(2, 5)  # 40% first, 40% last
_U_MIDDLE: Final = Fraction(1, 5)  # 20% over the middle
_W_KEY: Final = Fraction(3, 10)  # 30% first, lead, last
_W_REST: Final = Fraction(1, 10)  # 10% over the rest


def one_hot(n: int, index: int) -> list[Fraction]:
    """``n`` weights, 1 at ``index`` and 0 elsewhere (``[]`` for ``n == 0``)."""
    weights = [Fraction(0)] * n
    if n:
        weights[index] = Fraction(1)
    return weights


def first_touch(touches: Sequence[Touch]) -> list[Fraction]:
    """100% to the first touch."""
    return one_hot(len(touches), 0)


def last_touch(touches: Sequence[Touch]) -> list[Fraction]:
    """100% to the last touch."""
    return one_hot(len(touches), len(touches) - 1)


def last_non_direct_index(touches: Sequence[Touch]) -> int:
    """Position of the last touch whose channel is not ``"direct"``, else of the last touch (-1 when empty)."""
    for i in range(len(touches) - 1, -1, -1):
        if touches[i].channel != DIRECT_CHANNEL:
            return i
    return len(touches) - 1


def last_non_direct(touches: Sequence[Touch]) -> list[Fraction]:
    """100% to the last touch whose channel is not ``"direct"``; all-direct journeys fall back to the last touch."""
    return one_hot(len(touches), last_non_direct_index(touches))


def linear_weights(n: int) -> list[Fraction]:
    """Equal split of ``n`` touches: ``1/n`` each."""
    return [Fraction(1, n)] * n


def linear(touches: Sequence[Touch]) -> list[Fraction]:
    """Equal split: ``1/n`` per touch."""
    return linear_weights(len(touches))


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


def position_based_weights(n: int) -> list[Fraction]:
    """U-shaped weights of ``n`` touches (see :func:`position_based`)."""
    if n <= 2:
        return linear_weights(n)
    middle = _U_MIDDLE / (n - 2)
    return [_U_END] + [middle] * (n - 2) + [_U_END]


def position_based(touches: Sequence[Touch]) -> list[Fraction]:
    """U-shaped: 40% first, 40% last, 20% split equally over the middle; 1 touch 100%, 2 touches 50/50."""
    return position_based_weights(len(touches))


def lead_index(touches: Sequence[Touch]) -> int | None:
    """Position of the earliest touch flagged ``is_lead``, or ``None``."""
    return next((i for i, t in enumerate(touches) if t.is_lead), None)


def w_shaped_lead(touches: Sequence[Touch]) -> int | None:
    """The *distinct* lead position :func:`w_shaped` uses: the lead index unless it is first, last or absent."""
    lead = lead_index(touches)
    return None if lead is None or lead in (0, len(touches) - 1) else lead


def w_shaped_weights(n: int, lead: int | None) -> list[Fraction]:
    """W-shaped weights of ``n`` touches with the distinct lead at ``lead`` (``None``: u-shaped)."""
    if lead is None or lead in (0, n - 1):
        return position_based_weights(n)
    if n == 3:
        return [Fraction(1, 3)] * 3
    rest = _W_REST / (n - 3)
    weights = [rest] * n
    weights[0] = weights[lead] = weights[n - 1] = _W_KEY
    return weights


def w_shaped(touches: Sequence[Touch]) -> list[Fraction]:
    """30% first, 30% lead-creation touch, 30% last, 10% split equally over the rest.

    * The lead touch is the earliest touch with ``is_lead``. It is *distinct* only when it is neither the first nor
      the last touch; otherwise (or without a lead touch, or with fewer than 3 touches) the model is exactly
      :func:`position_based` (u-shaped).
    * Three touches with the lead in the middle have no "rest": the 10% is shared equally by the three key touches,
      i.e. 1/3 each (as Bizible/Marketo do).
    """
    return w_shaped_weights(len(touches), lead_index(touches))


def participation(touches: Sequence[Touch]) -> list[Fraction]:
    """Full credit (1) to every touch; a touch is a session, so repeated channels each get 1. Not normalised."""
    return [Fraction(1)] * len(touches)


def positional_key(model: str, touches: Sequence[Touch]) -> int:
    """The one position besides ``len(touches)`` that the weights of a :data:`POSITIONAL` model depend on.

    First/last/last-non-direct: the credited index; w-shaped: the distinct lead (-1 for none); others: 0.
    ``POSITIONAL_BY_SHAPE[model](len(touches), positional_key(model, touches)) == POSITIONAL[model](touches)``.
    """
    if model == FIRST_TOUCH:
        return 0
    if model == LAST_TOUCH:
        return len(touches) - 1
    if model == LAST_NON_DIRECT:
        return last_non_direct_index(touches)
    if model == W_SHAPED:
        lead = w_shaped_lead(touches)
        return -1 if lead is None else lead
    return 0


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
#: The same weights from the journey's shape: ``(n, positional_key(model, touches)) -> weights``.
POSITIONAL_BY_SHAPE: Final[dict[str, Callable[[int, int], list[Fraction]]]] = {
    FIRST_TOUCH: one_hot,
    LAST_TOUCH: one_hot,
    LAST_NON_DIRECT: one_hot,
    LINEAR: lambda n, _: linear_weights(n),
    POSITION_BASED: lambda n, _: position_based_weights(n),
    W_SHAPED: lambda n, lead: w_shaped_weights(n, None if lead < 0 else lead),
    PARTICIPATION: lambda n, _: [Fraction(1)] * n,
}
