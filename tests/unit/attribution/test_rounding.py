"""Largest-remainder rounding of credit fractions and revenue."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from multibuzz.domain.attribution import allocate_revenue, minor_units, quantize_credits

from ._factories import dec


class TestMinorUnits:
    @pytest.mark.parametrize(
        ("currency", "places"),
        [("USD", 2), ("eur", 2), ("JPY", 0), ("KRW", 0), ("BHD", 3), ("KWD", 3), ("CLF", 4), ("XYZ", 2)],
    )
    def test_table(self, currency: str, places: int) -> None:
        assert minor_units(currency) == places


class TestQuantizeCredits:
    def test_thirds(self) -> None:
        assert quantize_credits([1, 1, 1]) == dec("0.33333334", "0.33333333", "0.33333333")

    def test_normalises_unnormalised_weights(self) -> None:
        assert quantize_credits([2.0, 6.0]) == dec("0.25", "0.75")

    def test_exact_fractions(self) -> None:
        # 7 x 0.14285714 = 0.99999998: two spare units, to the two earliest (tied) entries
        assert quantize_credits([Fraction(1, 7)] * 7) == dec(*(["0.14285715"] * 2 + ["0.14285714"] * 5))

    def test_tie_goes_to_earlier_index(self) -> None:
        assert quantize_credits([1, 1, 1, 1, 1, 1]) == dec(*(["0.16666667"] * 4 + ["0.16666666"] * 2))

    def test_empty(self) -> None:
        assert quantize_credits([]) == []

    @pytest.mark.parametrize("weights", [[0, 0], [1, -1], [float("nan"), 1.0], [float("inf")]])
    def test_rejects_bad_weights(self, weights: list[float]) -> None:
        with pytest.raises(ValueError, match="weight"):
            quantize_credits(weights)


class TestAllocateRevenue:
    def test_99_usd_over_thirds(self) -> None:
        credits = quantize_credits([1, 1, 1])
        assert allocate_revenue(credits, Decimal("99.00"), "USD") == dec("33.00", "33.00", "33.00")

    def test_100_usd_over_thirds_spare_cent_to_earliest(self) -> None:
        credits = quantize_credits([1, 1, 1])
        assert allocate_revenue(credits, Decimal("100"), "USD") == dec("33.34", "33.33", "33.33")

    def test_jpy_has_no_minor_unit(self) -> None:
        parts = allocate_revenue(quantize_credits([1, 1, 1]), Decimal("1000"), "JPY")
        assert parts == dec("334", "333", "333")
        assert all(p.as_tuple().exponent == 0 for p in parts)

    def test_kwd_has_three_places(self) -> None:
        parts = allocate_revenue(quantize_credits([1, 2]), Decimal("10"), "KWD")
        assert parts == dec("3.333", "6.667")

    def test_refund_mirrors_the_sale(self) -> None:
        credits = quantize_credits([1, 2, 4])
        sale = allocate_revenue(credits, Decimal("10.00"), "USD")
        refund = allocate_revenue(credits, Decimal("-10.00"), "USD")
        assert refund == [-p for p in sale]
        assert sum(refund) == Decimal("-10.00")

    def test_zero_revenue(self) -> None:
        assert allocate_revenue(quantize_credits([1, 1]), Decimal(0), "USD") == dec("0.00", "0.00")

    def test_revenue_finer_than_minor_unit_is_rounded_half_even(self) -> None:
        parts = allocate_revenue(quantize_credits([1, 1]), Decimal("10.005"), "USD")
        assert sum(parts) == Decimal("10.00")

    def test_participation_credits_each_get_full_revenue(self) -> None:
        assert allocate_revenue(dec("1", "1", "1"), Decimal("5.00"), "EUR") == dec("5.00", "5.00", "5.00")

    def test_empty_credits(self) -> None:
        assert allocate_revenue([], Decimal("5.00"), "EUR") == []

    def test_rejects_negative_credit(self) -> None:
        with pytest.raises(ValueError, match="non-negative"):
            allocate_revenue(dec("1.5", "-0.5"), Decimal("5.00"), "EUR")
