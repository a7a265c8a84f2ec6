"""The per-conversion engine: end-to-end example, empty journeys, data-driven application, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from multibuzz.domain.attribution import (
    MODELS,
    MarkovModel,
    ShapleyModel,
    Touch,
    attribute,
    fit_markov,
    revenue_credits,
)

from ._factories import CONVERSION_AT, credits_of, dec, journey

FITTED_AT = datetime(2026, 2, 1, tzinfo=UTC)


def test_end_to_end_99_usd_purchase() -> None:
    touches = journey("organic_search", "paid_social", "email", step_days=1.0)
    result = attribute(touches, CONVERSION_AT + timedelta(hours=1))

    def revenue(model: str) -> list[tuple[str, Decimal]]:
        parts = revenue_credits(result[model], Decimal("99.00"), "USD")
        return [(c.channel, p) for c, p in zip(result[model].credits, parts, strict=True)]

    assert revenue("first_touch") == [
        ("organic_search", Decimal("99.00")),
        ("paid_social", Decimal("0.00")),
        ("email", Decimal("0.00")),
    ]
    assert revenue("last_touch") == [
        ("organic_search", Decimal("0.00")),
        ("paid_social", Decimal("0.00")),
        ("email", Decimal("99.00")),
    ]
    assert revenue("linear") == [
        ("organic_search", Decimal("33.00")),
        ("paid_social", Decimal("33.00")),
        ("email", Decimal("33.00")),
    ]
    for model in MODELS:
        parts = revenue_credits(result[model], Decimal("99.00"), "USD")
        assert sum(parts) == (Decimal("297.00") if model == "participation" else Decimal("99.00"))


def test_returns_every_model_in_order() -> None:
    result = attribute(journey("email"), CONVERSION_AT)
    assert tuple(result) == MODELS
    assert all(r.model == name for name, r in result.items())


def test_model_subset() -> None:
    assert list(attribute(journey("email"), CONVERSION_AT, models=["linear", "first_touch"])) == [
        "linear",
        "first_touch",
    ]


def test_empty_touch_list_gives_empty_credits() -> None:
    result = attribute([], CONVERSION_AT)
    assert all(r.credits == [] for r in result.values())
    assert all(revenue_credits(r, Decimal("10.00"), "USD") == [] for r in result.values())


def test_unknown_model_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown attribution model"):
        attribute(journey("email"), CONVERSION_AT, models=["linear", "u_shaped_typo"])


def test_duplicate_session_is_rejected() -> None:
    touches = [Touch("s1", "email", CONVERSION_AT), Touch("s1", "display", CONVERSION_AT)]
    with pytest.raises(ValueError, match="session_id"):
        attribute(touches, CONVERSION_AT)


def test_naive_datetimes_are_taken_as_utc() -> None:
    naive = [Touch("a", "email", datetime(2026, 2, 22, 12)), Touch("b", "display", datetime(2026, 3, 1, 12))]
    aware = [Touch(t.session_id, t.channel, t.occurred_at.replace(tzinfo=UTC)) for t in naive]
    assert attribute(naive, CONVERSION_AT) == attribute(aware, CONVERSION_AT)


FITTED = {"a": 0.5, "b": 0.3, "c": 0.2}


@pytest.mark.parametrize("model", ["markov", "shapley"])
@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (("a",), ["1"]),
        (("a", "b"), ["0.625", "0.375"]),  # 0.5 : 0.3 renormalised over {a, b}
        (("a", "b", "c"), ["0.5", "0.3", "0.2"]),
        (("a", "b", "a", "c", "b"), ["0.25", "0.15", "0.25", "0.2", "0.15"]),  # a, b split over two touches each
    ],
)
def test_data_driven_hand_computed(model: str, channels: tuple[str, ...], expected: list[str]) -> None:
    markov = MarkovModel(weights=FITTED, fitted_at=FITTED_AT, journeys=10, conversions=5)
    shapley = ShapleyModel(weights=FITTED, fitted_at=FITTED_AT, journeys=10, conversions=5)
    result = attribute(journey(*channels), CONVERSION_AT, markov=markov, shapley=shapley)[model]
    assert (credits_of(result), result.fallback) == (dec(*expected), None)


class TestDataDriven:
    MARKOV = MarkovModel(weights={"a": 0.6, "b": 0.4, "c": 0.0}, fitted_at=FITTED_AT, journeys=4, conversions=2)

    def test_channel_weight_split_over_its_touches(self) -> None:
        result = attribute(journey("a", "b", "a"), CONVERSION_AT, markov=self.MARKOV)["markov"]
        assert credits_of(result) == dec("0.3", "0.4", "0.3")
        assert result.fallback is None

    def test_weights_renormalised_over_channels_present(self) -> None:
        result = attribute(journey("b", "c"), CONVERSION_AT, markov=self.MARKOV)["markov"]
        assert credits_of(result) == dec("1", "0")

    def test_channel_unknown_to_the_fit_gets_zero(self) -> None:
        result = attribute(journey("new_channel", "a"), CONVERSION_AT, markov=self.MARKOV)["markov"]
        assert credits_of(result) == dec("0", "1")

    def test_no_positive_weight_present_falls_back_to_linear(self) -> None:
        result = attribute(journey("c", "new_channel"), CONVERSION_AT, markov=self.MARKOV)["markov"]
        assert (credits_of(result), result.fallback) == (dec("0.5", "0.5"), "linear")

    @pytest.mark.parametrize("model", ["markov", "shapley"])
    def test_no_fit_falls_back_to_linear(self, model: str) -> None:
        result = attribute(journey("a", "b", "c"), CONVERSION_AT)[model]
        assert result.fallback == "linear"
        assert credits_of(result) == dec("0.33333334", "0.33333333", "0.33333333")

    def test_fit_without_conversions_falls_back_to_linear(self) -> None:
        from multibuzz.domain.attribution import Journey

        fit = fit_markov([Journey(("a",), False)], fitted_at=FITTED_AT)
        result = attribute(journey("a", "b"), CONVERSION_AT, markov=fit)["markov"]
        assert result.fallback == "linear"

    def test_shapley_fit_is_applied(self) -> None:
        fit = ShapleyModel(weights={"a": 0.75, "b": 0.25}, fitted_at=FITTED_AT, journeys=2, conversions=2)
        result = attribute(journey("a", "b", "b"), CONVERSION_AT, shapley=fit)["shapley"]
        assert credits_of(result) == dec("0.75", "0.125", "0.125")


def test_package_import_does_not_load_numpy() -> None:
    """numpy is loaded on first fit/batch only, so Lambdas that just attribute stay light."""
    import subprocess
    import sys

    code = (
        "import sys, datetime as d, multibuzz.domain.attribution as a; "
        "a.attribute([a.Touch('s', 'email', d.datetime(2026, 1, 1))], d.datetime(2026, 1, 2)); "
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
