"""Vectorised re-attribution of many conversions at once (the eight rule-based models).

Used when an account's whole history is re-attributed: instead of one :func:`~.engine.attribute` call per
conversion, columnar arrays go through numpy in one pass per model. The rules are exactly those of
:mod:`.heuristics` (same ordering, same w_shaped/last_non_direct/time-decay conventions); the results are float64
weights and per-channel totals, not rounded Decimals. Per-conversion Decimal credits for storage still come from
:func:`~.engine.attribute`; the totals of both agree to rounding error (tested).

Input, ``m`` touches over ``J`` journeys (one journey = one conversion):

* ``journey``: int, journey index in ``[0, J)`` per touch (any order, need not be grouped);
* ``channel``: int, channel code in ``[0, n_channels)`` per touch;
* ``touched_at``: per touch, float seconds (any epoch) or ``datetime64``;
* ``converted_at`` and ``revenue``: per journey (``converted_at`` in the same unit as ``touched_at``);
* ``is_lead``: optional bool per touch.

Touches of a journey are ordered by time, ties by input position (pass rows sorted by session id to match the
engine's ``(occurred_at, session_id)`` order exactly). Journeys without touches contribute nothing (the caller
credits them to direct).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .types import (
    FIRST_TOUCH,
    HEURISTIC_MODELS,
    LAST_NON_DIRECT,
    LAST_TOUCH,
    LINEAR,
    PARTICIPATION,
    POSITION_BASED,
    TIME_DECAY,
    W_SHAPED,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_SECONDS_PER_DAY: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Per model: ``credits[model][c]`` = Σ credit fractions of channel ``c`` (conversions credited),
    ``revenue[model][c]`` = Σ revenue credited, ``touch_credits[model][i]`` = credit of input touch ``i``."""

    models: tuple[str, ...]
    credits: dict[str, FloatArray]
    revenue: dict[str, FloatArray]
    touch_credits: dict[str, FloatArray]


@dataclass(frozen=True, slots=True)
class _Layout:
    """Touches sorted by (journey, time, input position) plus per-touch journey geometry."""

    order: IntArray  # sorted position -> input index
    journey: IntArray
    channel: IntArray
    delta_days: FloatArray  # conversion time - touch time, clamped at 0
    lead: npt.NDArray[np.bool_]
    starts: IntArray  # first sorted position of each non-empty journey
    segment: IntArray  # per touch: index into starts
    length: IntArray  # per touch: touches in its journey
    position: IntArray  # per touch: 0-based position in its journey


def _seconds(values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values)
    if array.dtype.kind == "M":
        micros = (array - np.datetime64(0, "us")).astype("timedelta64[us]").astype(np.int64)
        return micros.astype(np.float64) / 1e6
    return array.astype(np.float64)


def _layout(
    journey: npt.ArrayLike,
    channel: npt.ArrayLike,
    touched_at: npt.ArrayLike,
    converted_at: npt.ArrayLike,
    is_lead: npt.ArrayLike | None,
) -> _Layout:
    journeys = np.asarray(journey, dtype=np.int64)
    touched = _seconds(touched_at)
    converted = _seconds(converted_at)
    m = journeys.shape[0]
    order = np.lexsort((np.arange(m), touched, journeys)).astype(np.int64)
    j = journeys[order]
    boundary = np.ones(m, dtype=bool)
    boundary[1:] = j[1:] != j[:-1]
    starts = np.flatnonzero(boundary).astype(np.int64)
    segment = (np.cumsum(boundary) - 1).astype(np.int64)
    lengths = np.diff(np.append(starts, m)).astype(np.int64)
    lead = np.zeros(m, dtype=bool) if is_lead is None else np.asarray(is_lead, dtype=bool)[order]
    return _Layout(
        order=order,
        journey=j,
        channel=np.asarray(channel, dtype=np.int64)[order],
        delta_days=np.maximum(converted[j] - touched[order], 0.0) / _SECONDS_PER_DAY,
        lead=lead,
        starts=starts,
        segment=segment,
        length=lengths[segment],
        position=np.arange(m, dtype=np.int64) - starts[segment],
    )


def _position_based(lay: _Layout) -> FloatArray:
    n = lay.length
    ends = (lay.position == 0) | (lay.position == n - 1)
    middle = 0.2 / np.maximum(n - 2, 1)
    return np.where(n == 1, 1.0, np.where(n == 2, 0.5, np.where(ends, 0.4, middle)))


def _w_shaped(lay: _Layout, u_shaped: FloatArray) -> FloatArray:
    n = lay.length
    big = np.iinfo(np.int64).max
    lead_pos = np.minimum.reduceat(np.where(lay.lead, lay.position, big), lay.starts)[lay.segment]
    distinct = (lead_pos > 0) & (lead_pos < n - 1)
    key = (lay.position == 0) | (lay.position == n - 1) | (lay.position == lead_pos)
    w = np.where(n == 3, 1.0 / 3.0, np.where(key, 0.3, 0.1 / np.maximum(n - 3, 1)))
    return np.where(distinct, w, u_shaped)


def _last_non_direct(lay: _Layout, direct_code: int | None) -> FloatArray:
    if direct_code is None:
        return (lay.position == lay.length - 1).astype(np.float64)
    candidate = np.where(lay.channel != direct_code, lay.position, -1)
    target = np.maximum.reduceat(candidate, lay.starts)[lay.segment]
    target = np.where(target >= 0, target, lay.length - 1)
    return (lay.position == target).astype(np.float64)


def _time_decay(lay: _Layout, half_life_days: float) -> FloatArray:
    youngest = np.minimum.reduceat(lay.delta_days, lay.starts)[lay.segment]
    raw = np.exp2(-(lay.delta_days - youngest) / half_life_days)
    return raw / np.add.reduceat(raw, lay.starts)[lay.segment]


def _weights(model: str, lay: _Layout, direct_code: int | None, half_life_days: float) -> FloatArray:
    if model == FIRST_TOUCH:
        return (lay.position == 0).astype(np.float64)
    if model == LAST_TOUCH:
        return (lay.position == lay.length - 1).astype(np.float64)
    if model == LAST_NON_DIRECT:
        return _last_non_direct(lay, direct_code)
    if model == LINEAR:
        return 1.0 / lay.length
    if model == TIME_DECAY:
        return _time_decay(lay, half_life_days)
    if model == POSITION_BASED:
        return _position_based(lay)
    if model == W_SHAPED:
        return _w_shaped(lay, _position_based(lay))
    if model == PARTICIPATION:
        return np.ones(lay.position.shape[0])
    raise ValueError(f"not a batch (heuristic) model: {model}")


def attribute_batch(
    journey: npt.ArrayLike,
    channel: npt.ArrayLike,
    touched_at: npt.ArrayLike,
    converted_at: npt.ArrayLike,
    revenue: npt.ArrayLike,
    is_lead: npt.ArrayLike | None = None,
    *,
    n_channels: int | None = None,
    direct_code: int | None = None,
    half_life_days: float = 7.0,
    models: Sequence[str] = HEURISTIC_MODELS,
) -> BatchResult:
    """Credits of the rule-based ``models`` for every touch, with per-channel totals (see module docstring).

    ``direct_code`` is the channel code of ``"direct"`` for ``last_non_direct`` (``None``: no channel is direct).
    ``n_channels`` sizes the totals (default: max code + 1).
    """
    if not half_life_days > 0:
        raise ValueError("half_life_days must be positive")
    codes = np.asarray(channel, dtype=np.int64)
    values = np.asarray(revenue, dtype=np.float64)
    sizes = {np.shape(journey)[0], codes.shape[0], np.shape(touched_at)[0]}
    if is_lead is not None:
        sizes.add(np.shape(is_lead)[0])
    if len(sizes) != 1:
        raise ValueError("per-touch arrays must have the same length")
    if np.shape(converted_at)[0] != values.shape[0]:
        raise ValueError("per-journey arrays must have the same length")
    width = int(n_channels if n_channels is not None else (codes.max() + 1 if codes.size else 0))
    if codes.size and (codes.min() < 0 or codes.max() >= width):
        raise ValueError("channel codes must lie in [0, n_channels)")
    empty = np.zeros(width)
    if codes.size == 0:
        zero = {m: empty.copy() for m in models}
        return BatchResult(tuple(models), zero, dict(zero), {m: np.zeros(0) for m in models})
    journeys = np.asarray(journey, dtype=np.int64)
    if journeys.min() < 0 or journeys.max() >= values.shape[0]:
        raise ValueError("journey ids must lie in [0, len(converted_at))")
    lay = _layout(journeys, codes, touched_at, converted_at, is_lead)
    touch_revenue = values[lay.journey]
    credits: dict[str, FloatArray] = {}
    revenues: dict[str, FloatArray] = {}
    per_touch: dict[str, FloatArray] = {}
    for model in models:
        w = _weights(model, lay, direct_code, half_life_days)
        credits[model] = np.bincount(lay.channel, weights=w, minlength=width).astype(np.float64)
        revenues[model] = np.bincount(lay.channel, weights=w * touch_revenue, minlength=width).astype(np.float64)
        unsorted = np.empty_like(w)
        unsorted[lay.order] = w
        per_touch[model] = unsorted
    return BatchResult(tuple(models), credits, revenues, per_touch)
