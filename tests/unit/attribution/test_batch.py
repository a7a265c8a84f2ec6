"""The vectorised batch path agrees with the per-conversion engine."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from multibuzz.domain.attribution import HEURISTIC_MODELS, BatchResult, attribute, attribute_batch, revenue_credits

from ._factories import CHANNELS, RandomJourneys, random_journeys

DIRECT = CHANNELS.index("direct")
PerChannel = dict[str, np.ndarray]
EngineTotals = tuple[PerChannel, PerChannel, PerChannel]


@pytest.fixture(scope="module")
def data() -> RandomJourneys:
    return random_journeys(400, seed=20260301)


def engine_totals(data: RandomJourneys) -> EngineTotals:
    width = len(CHANNELS)
    credits = {m: np.zeros(width) for m in HEURISTIC_MODELS}
    revenue = {m: np.zeros(width) for m in HEURISTIC_MODELS}
    per_touch = {m: np.zeros(data.channel.shape[0]) for m in HEURISTIC_MODELS}
    exact_credit = {m: [Decimal(0)] * width for m in HEURISTIC_MODELS}
    exact_revenue = {m: [Decimal(0)] * width for m in HEURISTIC_MODELS}
    for j in range(data.size):
        touches = data.touches(j)
        result = attribute(touches, data.conversion_at(j), models=HEURISTIC_MODELS)
        money = Decimal(str(data.revenue[j]))
        for model, model_result in result.items():
            parts = revenue_credits(model_result, money, "USD")
            for credit, part in zip(model_result.credits, parts, strict=True):
                code = CHANNELS.index(credit.channel)
                exact_credit[model][code] += credit.credit
                exact_revenue[model][code] += part
                per_touch[model][int(credit.session_id[1:])] = float(credit.credit)
    for m in HEURISTIC_MODELS:
        credits[m] = np.array([float(x) for x in exact_credit[m]])
        revenue[m] = np.array([float(x) for x in exact_revenue[m]])
    return credits, revenue, per_touch


@pytest.fixture(scope="module")
def engine(data: RandomJourneys) -> EngineTotals:
    return engine_totals(data)


def run_batch(data: RandomJourneys, *, seconds: bool = False, shuffle: bool = False) -> tuple[BatchResult, np.ndarray]:
    idx = np.arange(data.channel.shape[0])
    if shuffle:
        idx = np.random.default_rng(1).permutation(idx)
    touched, converted = data.touched_at, data.converted_at
    if seconds:
        touched = touched.astype(np.int64).astype(np.float64)
        converted = converted.astype(np.int64).astype(np.float64)
    return attribute_batch(
        data.journey[idx],
        data.channel[idx],
        touched[idx],
        converted,
        data.revenue,
        data.is_lead[idx],
        n_channels=len(CHANNELS),
        direct_code=DIRECT,
    ), idx


@pytest.mark.parametrize("seconds", [False, True], ids=["datetime64", "float-seconds"])
def test_totals_match_engine(data: RandomJourneys, engine: EngineTotals, seconds: bool) -> None:
    credits, revenue, per_touch = engine
    batch, _ = run_batch(data, seconds=seconds)
    n_conversions = data.size
    for model in HEURISTIC_MODELS:
        # credits: each engine credit is within 1e-8 of the exact fraction
        np.testing.assert_allclose(batch.credits[model], credits[model], rtol=0, atol=n_conversions * 1e-8)
        # revenue: each engine part is within one cent of its exact share
        np.testing.assert_allclose(batch.revenue[model], revenue[model], rtol=0, atol=n_conversions * 0.01)
        np.testing.assert_allclose(batch.touch_credits[model], per_touch[model], rtol=0, atol=1e-8)


def test_input_order_does_not_matter(data: RandomJourneys, engine: EngineTotals) -> None:
    _, _, per_touch = engine
    batch, idx = run_batch(data, shuffle=True)
    for model in HEURISTIC_MODELS:
        np.testing.assert_allclose(batch.touch_credits[model], per_touch[model][idx], rtol=0, atol=1e-8)


def test_totals_add_up(data: RandomJourneys) -> None:
    batch, _ = run_batch(data)
    for model in HEURISTIC_MODELS:
        expected = data.channel.shape[0] if model == "participation" else data.size
        assert batch.credits[model].sum() == pytest.approx(expected)


def test_engine_totals_are_exact(data: RandomJourneys, engine: EngineTotals) -> None:
    _, revenue, _ = engine
    for model in HEURISTIC_MODELS:
        if model != "participation":
            assert revenue[model].sum() == pytest.approx(float(sum(Decimal(str(r)) for r in data.revenue)))


def test_journey_without_touches_contributes_nothing() -> None:
    result = attribute_batch([1, 1], [0, 1], [0.0, 10.0], [20.0, 20.0], [5.0, 7.0], n_channels=2)
    assert result.revenue["linear"].tolist() == [3.5, 3.5]


def test_empty_input() -> None:
    result = attribute_batch([], [], [], [], [], n_channels=3)
    assert result.credits["linear"].tolist() == [0.0, 0.0, 0.0]


def test_validation() -> None:
    with pytest.raises(ValueError, match="same length"):
        attribute_batch([0], [0, 1], [0.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="channel codes"):
        attribute_batch([0], [3], [0.0], [1.0], [1.0], n_channels=2)
    with pytest.raises(ValueError, match="journey ids"):
        attribute_batch([1], [0], [0.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="half_life"):
        attribute_batch([0], [0], [0.0], [1.0], [1.0], half_life_days=0)
