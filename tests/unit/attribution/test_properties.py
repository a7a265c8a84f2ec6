"""Hypothesis properties: exact sums, exact revenue, invariance to input order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from multibuzz.domain.attribution import (
    MODELS,
    Journey,
    Touch,
    allocate_revenue,
    attribute,
    fit_markov,
    fit_shapley,
    minor_units,
    quantize_credits,
    revenue_credits,
)

from ._factories import CHANNELS, CONVERSION_AT

FIT_JOURNEYS = [
    Journey(("paid_search", "email"), True),
    Journey(("organic_search",), True),
    Journey(("display", "direct"), False),
    Journey(("paid_social", "email", "direct"), True),
    Journey(("affiliate",), False),
]
MARKOV = fit_markov(FIT_JOURNEYS, fitted_at=datetime(2026, 1, 1, tzinfo=UTC))
SHAPLEY = fit_shapley(FIT_JOURNEYS, fitted_at=datetime(2026, 1, 1, tzinfo=UTC))
CURRENCIES = ["USD", "EUR", "JPY", "KRW", "BHD", "KWD", "CLF", "GBP"]


@st.composite
def touch_lists(draw: st.DrawFn) -> list[Touch]:
    n = draw(st.integers(min_value=1, max_value=12))
    ids = draw(st.lists(st.text("abcdef0123", min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
    return [
        Touch(
            session_id=session_id,
            channel=draw(st.sampled_from(CHANNELS)),
            # minute granularity over 30 days, so equal timestamps (ties) are common enough to matter
            occurred_at=CONVERSION_AT - timedelta(minutes=draw(st.sampled_from([0, 5, 60, 1440, 43_200]))),
            is_lead=draw(st.booleans()),
        )
        for session_id in ids
    ]


@st.composite
def revenues(draw: st.DrawFn) -> tuple[Decimal, str]:
    currency = draw(st.sampled_from(CURRENCIES))
    minor = draw(st.integers(min_value=-(10**9), max_value=10**12))
    return Decimal(minor).scaleb(-minor_units(currency)), currency


@settings(max_examples=150, deadline=None)
@given(touches=touch_lists(), half_life=st.floats(min_value=0.01, max_value=365.0))
def test_credits_sum_to_exactly_one(touches: list[Touch], half_life: float) -> None:
    result = attribute(touches, CONVERSION_AT, half_life_days=half_life, markov=MARKOV, shapley=SHAPLEY)
    for model, model_result in result.items():
        credits = [c.credit for c in model_result.credits]
        assert len(credits) == len(touches)
        assert all(c >= 0 for c in credits)
        if model == "participation":
            assert all(c == Decimal(1) for c in credits)
        else:
            assert sum(credits) == Decimal(1), model


@settings(max_examples=150, deadline=None)
@given(touches=touch_lists(), money=revenues())
def test_revenue_credits_sum_to_exactly_the_revenue(touches: list[Touch], money: tuple[Decimal, str]) -> None:
    revenue, currency = money
    result = attribute(touches, CONVERSION_AT, markov=MARKOV, shapley=SHAPLEY)
    exponent = -minor_units(currency)
    for model, model_result in result.items():
        parts = revenue_credits(model_result, revenue, currency)
        assert all(p.as_tuple().exponent == exponent for p in parts)
        if model == "participation":
            assert parts == [revenue] * len(touches)
        else:
            assert sum(parts) == revenue, model
            # each part within one minor unit of its exact share
            unit = Decimal(1).scaleb(exponent)
            for part, credit in zip(parts, model_result.credits, strict=True):
                assert abs(part - credit.credit * revenue) < unit


@settings(max_examples=100, deadline=None)
@given(touches=touch_lists(), data=st.data())
def test_invariant_to_input_order(touches: list[Touch], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(touches))
    expected = attribute(touches, CONVERSION_AT, markov=MARKOV, shapley=SHAPLEY)
    assert attribute(shuffled, CONVERSION_AT, markov=MARKOV, shapley=SHAPLEY) == expected


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
    money=revenues(),
)
def test_rounding_primitives(weights: list[float], money: tuple[Decimal, str]) -> None:
    credits = quantize_credits(weights)
    assert sum(credits) == Decimal(1)
    total = sum(weights)
    assert all(abs(float(c) - w / total) <= 1e-8 + 1e-12 for c, w in zip(credits, weights, strict=True))
    revenue, currency = money
    assert sum(allocate_revenue(credits, revenue, currency)) == revenue


def test_models_cover_all_ten() -> None:
    assert len(MODELS) == 10
