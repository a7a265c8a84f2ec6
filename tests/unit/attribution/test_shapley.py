"""Set-based data-driven Shapley values."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest
from multibuzz.domain.attribution import Journey, ShapleyModel, fit_shapley
from multibuzz.domain.attribution.shapley import shapley_closed_form, shapley_enumeration

FITTED_AT = datetime(2026, 2, 1, tzinfo=UTC)


def J(path: str, converted: bool = True, value: float = 1.0) -> Journey:
    return Journey(tuple(path.split(">")), converted, value)


def brute_force(sets: dict[frozenset[str], float], channels: list[str]) -> dict[str, float]:
    """Textbook Shapley over permutations: average marginal contribution."""

    def v(coalition: set[str]) -> float:
        return sum(w for members, w in sets.items() if members <= coalition)

    phi = dict.fromkeys(channels, 0.0)
    for perm in itertools.permutations(channels):
        before: set[str] = set()
        for c in perm:
            phi[c] += v(before | {c}) - v(before)
            before.add(c)
    return {c: p / math.factorial(len(channels)) for c, p in phi.items()}


def test_three_channels_by_hand() -> None:
    # r({a}) = 2, r({a,b}) = 1, r({b,c}) = 1.
    # v: a 2, b 0, c 0, ab 3, ac 2, bc 1, abc 4.
    # φ_a = 1/3·2 + 1/6·3 + 1/6·2 + 1/3·(4-1) = 2.5; φ_b = 1/3·0 + 1/6·1 + 1/6·1 + 1/3·(4-2) = 1; φ_c = 0.5
    journeys = [J("a"), J("a>a"), J("a>b"), J("c>b"), J("c", converted=False)]
    model = fit_shapley(journeys, fitted_at=FITTED_AT)
    assert model.weights == pytest.approx({"a": 2.5 / 4, "b": 1 / 4, "c": 0.5 / 4})
    assert (model.method, model.journeys, model.conversions) == ("enumeration", 5, 4)


def test_symmetric_channels_get_equal_value() -> None:
    model = fit_shapley([J("a>b"), J("b>a"), J("a"), J("b"), J("c>a>b")])
    assert model.weights["a"] == pytest.approx(model.weights["b"])


def test_channel_never_in_a_converting_journey_gets_zero() -> None:
    model = fit_shapley([J("a>b"), J("b"), J("x>a", converted=False)])
    assert model.weights["x"] == 0.0
    assert sum(model.weights.values()) == pytest.approx(1.0)


def test_enumeration_matches_permutation_brute_force() -> None:
    rng = np.random.default_rng(3)
    channels = ["a", "b", "c", "d", "e"]
    sets: dict[frozenset[str], float] = {}
    for _ in range(30):
        members = frozenset(rng.choice(channels, size=int(rng.integers(1, 4)), replace=False))
        sets[members] = sets.get(members, 0.0) + float(rng.integers(1, 10))
    expected = brute_force(sets, channels)
    assert dict(zip(channels, shapley_enumeration(sets, channels), strict=True)) == pytest.approx(expected)


def test_closed_form_equals_enumeration() -> None:
    rng = np.random.default_rng(11)
    channels = [f"c{i}" for i in range(10)]
    sets: dict[frozenset[str], float] = {}
    for _ in range(200):
        members = frozenset(rng.choice(channels, size=int(rng.integers(1, 6)), replace=False))
        sets[members] = sets.get(members, 0.0) + 1.0
    np.testing.assert_allclose(shapley_closed_form(sets, channels), shapley_enumeration(sets, channels), rtol=1e-9)


def test_above_threshold_uses_closed_form_with_same_result() -> None:
    journeys = [J("a>b"), J("b>c"), J("a"), J("c>a>b"), J("d>a")]
    exact = fit_shapley(journeys)
    closed = fit_shapley(journeys, exact_max_channels=2)
    assert (exact.method, closed.method) == ("enumeration", "closed_form")
    assert closed.weights == pytest.approx(exact.weights)


def test_use_value_weights_by_conversion_value() -> None:
    model = fit_shapley([J("a", value=30.0), J("b", value=10.0)], use_value=True)
    assert model.weights == pytest.approx({"a": 0.75, "b": 0.25})
    assert fit_shapley([J("a", value=30.0), J("b", value=10.0)]).weights == pytest.approx({"a": 0.5, "b": 0.5})


def test_no_conversions_gives_no_weights() -> None:
    assert fit_shapley([J("a", converted=False)]).weights == {}


def test_round_trip_through_json() -> None:
    model = fit_shapley([J("a>b"), J("a")], fitted_at=FITTED_AT, use_value=True)
    assert ShapleyModel.from_dict(json.loads(json.dumps(model.to_dict()))) == model


def test_from_dict_rejects_other_kinds() -> None:
    with pytest.raises(ValueError, match="shapley"):
        ShapleyModel.from_dict({"kind": "markov", "schema": 1})


@pytest.mark.parametrize("limit", [-1, 21])
def test_enumeration_limit_is_bounded(limit: int) -> None:
    with pytest.raises(ValueError, match="exact_max_channels"):
        fit_shapley([J("a")], exact_max_channels=limit)
