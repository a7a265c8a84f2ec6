"""The fast integer engine against the frozen Fraction-based reference (``_reference_rounding``), output for output.

"Equal" here means equal ``repr``: same Decimal values *and* exponents, same order, same fallbacks, and for bad
input the same exception type and message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multibuzz.domain.attribution import (
    MODELS,
    ModelResult,
    Touch,
    allocate_revenue,
    attribute,
    engine,
    heuristics,
    minor_units,
    quantize_credits,
    revenue_credits,
)
from multibuzz.domain.attribution.types import Credit

from . import _reference_rounding as reference
from ._factories import CHANNELS, CONVERSION_AT
from ._regression_cases import FITS

CURRENCIES = ["USD", "JPY", "KWD", "CLF", "EUR", " usd ", "xyz"]


def outcome(function: Callable[..., Any], *args: Any) -> str:
    """``repr`` of ``function(*args)``, or the type and message of the error it raised."""
    try:
        return repr(function(*args))
    except (ValueError, ArithmeticError, TypeError) as error:
        return f"{type(error).__name__}: {error}"


finite_floats = st.floats(min_value=0.0, max_value=1e300, allow_nan=False, allow_infinity=False)
weights = st.one_of(
    st.integers(min_value=0, max_value=10**12),
    finite_floats,
    st.floats(min_value=0.0, max_value=1e-300, allow_subnormal=True),
    st.fractions(min_value=0, max_value=10**6),
    st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=6),
)
bad_weights = st.sampled_from([-1, -0.5, Fraction(-1, 3), Decimal("-1E-9"), float("nan"), float("inf"), True, -0.0])
credits = st.one_of(
    st.decimals(min_value=0, max_value=1, places=8),
    st.decimals(min_value=0, max_value=3, places=3),
    st.just(Decimal("1.00000000")),
    st.just(Decimal("0E-8")),
)
revenues = st.one_of(
    st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False, places=4),
    st.integers(min_value=-(10**15), max_value=10**15).map(Decimal),
    st.sampled_from([Decimal(0), Decimal("-0.00"), Decimal("0.005"), Decimal("-0.005"), Decimal("0.015")]),
)


@settings(max_examples=400, deadline=None)
@given(ws=st.lists(weights, min_size=0, max_size=20))
def test_quantize_credits_matches_reference(ws: list[Any]) -> None:
    assert outcome(quantize_credits, ws) == outcome(reference.quantize_credits, ws)


@settings(max_examples=300, deadline=None)
@given(ws=st.lists(st.one_of(weights, bad_weights), min_size=1, max_size=8))
def test_quantize_credits_errors_match_reference(ws: list[Any]) -> None:
    assert outcome(quantize_credits, ws) == outcome(reference.quantize_credits, ws)
    assert outcome(quantize_credits, tuple(ws)) == outcome(reference.quantize_credits, tuple(ws))
    assert outcome(quantize_credits, iter(ws)) == outcome(reference.quantize_credits, iter(ws))


@settings(max_examples=400, deadline=None)
@given(
    cs=st.lists(credits, min_size=0, max_size=12),
    revenue=revenues,
    currency=st.sampled_from(CURRENCIES),
)
def test_allocate_revenue_matches_reference(cs: list[Decimal], revenue: Decimal, currency: str) -> None:
    assert outcome(allocate_revenue, cs, revenue, currency) == outcome(
        reference.allocate_revenue, cs, revenue, currency
    )


@settings(max_examples=300, deadline=None)
@given(
    ws=st.lists(finite_floats, min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
    revenue=revenues,
    currency=st.sampled_from(CURRENCIES),
)
def test_quantized_floats_then_revenue_match_reference(ws: list[float], revenue: Decimal, currency: str) -> None:
    new = quantize_credits(ws)
    assert repr(new) == repr(reference.quantize_credits(ws))
    assert outcome(allocate_revenue, new, revenue, currency) == outcome(
        reference.allocate_revenue, new, revenue, currency
    )


@pytest.mark.parametrize(
    "cs",
    [
        [Decimal("1.5"), Decimal("-0.5")],
        [Decimal("NaN")],
        [Decimal("sNaN"), Decimal(1)],
        [Decimal("Infinity")],
        [1, 0],
        [Fraction(1, 3), Fraction(2, 3)],
        [0.25, 0.75],
        ["0.5", "0.5"],
        [Decimal(5), Decimal(5)],
    ],
)
@pytest.mark.parametrize("revenue", [Decimal("10.00"), Decimal("-3.33"), Decimal("9" * 27), Decimal("1E+40"), 2.5, 7])
def test_allocate_revenue_odd_inputs_match_reference(cs: list[Any], revenue: Any) -> None:
    assert outcome(allocate_revenue, cs, revenue, "USD") == outcome(reference.allocate_revenue, cs, revenue, "USD")


@pytest.mark.parametrize(
    ("prec", "rounding"), [(28, ROUND_HALF_UP), (12, ROUND_DOWN), (40, ROUND_HALF_UP), (9, ROUND_HALF_UP)]
)
def test_other_decimal_contexts_match_reference(prec: int, rounding: str) -> None:
    """Revenue rounding follows the caller's context; huge parts take the original (context-checked) path."""
    cases = [
        ([Decimal("0.33333334"), Decimal("0.33333333"), Decimal("0.33333333")], Decimal("100.005")),
        ([Decimal("0.5"), Decimal("0.5")], Decimal("-0.015")),
        ([Decimal(1), Decimal(1)], Decimal("12345678901.23")),
        ([Decimal(5), Decimal(5)], Decimal("9" * 10)),
        ([Decimal("0.25"), Decimal("0.75")], Decimal("1" * 30)),
    ]
    with localcontext() as ctx:
        ctx.prec = prec
        ctx.rounding = rounding
        for cs, revenue in cases:
            for currency in ("USD", "JPY", "KWD"):
                assert outcome(allocate_revenue, cs, revenue, currency) == outcome(
                    reference.allocate_revenue, cs, revenue, currency
                )
        for ws in ([1, 1, 1], [0.1, 0.2, 0.7], [Fraction(1, 7)] * 7):
            assert outcome(quantize_credits, ws) == outcome(reference.quantize_credits, ws)


def test_huge_totals_take_the_original_path() -> None:
    """Participation over a 28-digit revenue: the total has 29 digits, each part 28; built the original way."""
    credits, revenue = [Decimal("1.00000000")] * 2, Decimal("6" + "0" * 25)
    assert repr(allocate_revenue(credits, revenue, "USD")) == repr(reference.allocate_revenue(credits, revenue, "USD"))
    assert allocate_revenue(credits, revenue, "USD") == [revenue, revenue]


def test_huge_parts_raise_like_the_reference() -> None:
    """Parts beyond the context precision cannot be represented: both raise InvalidOperation."""
    with pytest.raises(InvalidOperation):
        reference.allocate_revenue([Decimal(50), Decimal(50)], Decimal("9" * 26), "USD")
    with pytest.raises(InvalidOperation):
        allocate_revenue([Decimal(50), Decimal(50)], Decimal("9" * 26), "USD")


@st.composite
def touch_lists(draw: st.DrawFn, max_size: int = 12) -> list[Touch]:
    n = draw(st.integers(min_value=0, max_value=max_size))
    ids = draw(st.lists(st.text("abc0123", min_size=1, max_size=4), min_size=n, max_size=n, unique=True))
    return [
        Touch(
            session_id=session_id,
            channel=draw(st.sampled_from(CHANNELS)),
            occurred_at=CONVERSION_AT - timedelta(seconds=draw(st.sampled_from([-60, 0, 1, 300, 86_400, 10**7]))),
            is_lead=draw(st.booleans()),
        )
        for session_id in ids
    ]


@settings(max_examples=300, deadline=None)
@given(
    touches=touch_lists(),
    half_life=st.floats(min_value=0.01, max_value=365.0),
    fits=st.sampled_from(FITS),
    revenue=revenues,
    currency=st.sampled_from(CURRENCIES),
    models=st.one_of(st.just(MODELS), st.lists(st.sampled_from(MODELS), max_size=4)),
)
def test_engine_matches_reference(
    touches: list[Touch],
    half_life: float,
    fits: tuple[Any, Any],
    revenue: Decimal,
    currency: str,
    models: list[str],
) -> None:
    markov, shapley = fits
    kwargs: dict[str, Any] = {"models": models, "half_life_days": half_life, "markov": markov, "shapley": shapley}
    new = attribute(touches, CONVERSION_AT, **kwargs)
    old = reference.attribute(touches, CONVERSION_AT, **kwargs)
    assert repr(new) == repr(old)
    for model in new:
        assert outcome(revenue_credits, new[model], revenue, currency) == outcome(
            reference.revenue_credits, old[model], revenue, currency
        )


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, engine.CACHED_MAX_TOUCHES, engine.CACHED_MAX_TOUCHES + 1, 100])
def test_long_and_cached_journeys_match_reference(n: int) -> None:
    touches = [
        Touch(f"s{i:03d}", CHANNELS[i % len(CHANNELS)], CONVERSION_AT - timedelta(hours=n - i), is_lead=i == n // 2)
        for i in range(n)
    ]
    markov, shapley = FITS[0]
    for _ in range(2):  # second round comes from the caches
        new = attribute(touches, CONVERSION_AT, markov=markov, shapley=shapley)
        old = reference.attribute(touches, CONVERSION_AT, markov=markov, shapley=shapley)
        assert repr(new) == repr(old)
        for model in MODELS:
            revenue = Decimal("1234.56")
            assert repr(revenue_credits(new[model], revenue, "USD")) == repr(
                reference.revenue_credits(old[model], revenue, "USD")
            )


@settings(max_examples=200, deadline=None)
@given(touches=touch_lists(max_size=10), model=st.sampled_from(sorted(heuristics.POSITIONAL)))
def test_positional_weights_by_shape(touches: list[Touch], model: str) -> None:
    if not touches and model in ("linear", "position_based", "w_shaped"):
        return  # 1/0 for an empty journey, in both (the engine never asks)
    by_shape = heuristics.POSITIONAL_BY_SHAPE[model](len(touches), heuristics.positional_key(model, touches))
    assert by_shape == heuristics.POSITIONAL[model](touches)
    assert by_shape == reference.POSITIONAL[model](touches)


def test_fast_constructors_build_identical_objects() -> None:
    credit = engine._new_credit("s1", "email", Decimal("0.5"))
    assert type(credit) is Credit
    assert credit == Credit("s1", "email", Decimal("0.5"))
    assert repr(credit) == repr(Credit("s1", "email", Decimal("0.5")))
    assert hash(credit) == hash(Credit("s1", "email", Decimal("0.5")))
    result = engine._new_result("linear", [credit], None)
    assert type(result) is ModelResult
    assert result == ModelResult("linear", [credit])
    assert repr(result) == repr(ModelResult("linear", [credit], None))


def test_minor_units_still_case_and_space_insensitive() -> None:
    assert minor_units(" jpy ") == 0
