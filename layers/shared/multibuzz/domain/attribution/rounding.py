"""Exact decimal credits: largest-remainder (Hamilton) rounding.

Two roundings happen for every conversion:

1. :func:`quantize_credits` turns a model's weights into fractions with :data:`CREDIT_PLACES` decimal places that
   sum to exactly ``Decimal(1)``.
2. :func:`allocate_revenue` splits the conversion revenue over those fractions in the currency's minor unit so the
   parts sum to exactly the revenue.

Largest remainder: every exact share ``q_i`` is floored to the grid, then the ``k`` units still missing go one each
to the ``k`` largest remainders ``q_i - floor(q_i)``. Ties go to the earlier index (earlier touch), so the result
is deterministic. All arithmetic is on :class:`fractions.Fraction`, so no float or Decimal-context error creeps in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Final

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
