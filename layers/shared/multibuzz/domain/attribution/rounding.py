"""Exact decimal credits: largest-remainder (Hamilton) rounding.

Two roundings happen for every conversion:

1. :func:`quantize_credits` turns a model's weights into fractions with :data:`CREDIT_PLACES` decimal places that
   sum to exactly ``Decimal(1)``.
2. :func:`allocate_revenue` splits the conversion revenue over those fractions in the currency's minor unit so the
   parts sum to exactly the revenue.

Largest remainder: every exact share ``q_i`` is floored to the grid, then the ``k`` units still missing go one each
to the ``k`` largest remainders ``q_i - floor(q_i)``. Ties go to the earlier index (earlier touch), so the result
is deterministic.

All arithmetic is exact and on plain Python ints: every weight (``int``, ``float`` via :meth:`float.as_integer_ratio`,
:class:`~fractions.Fraction`, :class:`~decimal.Decimal`) becomes a numerator over one common denominator, so every
share ``q_i`` is ``a_i / b`` with the same ``b``; floors and remainders are ``divmod(a_i, b)`` and remainders compare
as ints. No float or Decimal-context error creeps in, and no :class:`~fractions.Fraction` is built on the hot path
(the results are exactly those of the textbook Fraction formulation, which the tests keep as an oracle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, getcontext
from fractions import Fraction
from typing import Final

#: Decimal places of a credit fraction (``0.33333334`` style). 1e-8 of a 1e9 revenue is 10 minor units at worst
#: *before* the revenue's own largest-remainder step, which restores the exact total anyway.
CREDIT_PLACES: Final = 8
_CREDIT_SCALE: Final = 10**CREDIT_PLACES
_CREDIT_EXP: Final = Decimal(1).scaleb(-CREDIT_PLACES)
_UNIT_CREDIT: Final = Decimal(1).quantize(_CREDIT_EXP)
_DEFAULT_PREC: Final = 28
_DEFAULT_LIMIT: Final = 10**_DEFAULT_PREC

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
#: ``Decimal(1).scaleb(-places)`` per number of minor-unit places in use (0, 2, 3, 4).
_MINOR_EXP: Final[dict[int, Decimal]] = {
    p: Decimal(1).scaleb(-p) for p in {DEFAULT_MINOR_UNITS, *_MINOR_UNITS.values()}
}

Weight = float | int | Fraction | Decimal


def minor_units(currency: str) -> int:
    """Number of decimal places of ``currency`` (case-insensitive); 2 for any code not in the table."""
    return _MINOR_UNITS.get(currency.strip().upper(), DEFAULT_MINOR_UNITS)


def _largest_remainder(numerators: Sequence[int], denominator: int, total: int) -> list[int]:
    """Integers ``n_i`` with ``sum(n_i) == total`` and ``|n_i - q_i| < 1`` for the shares
    ``q_i = numerators_i / denominator`` (numerators non-negative, denominator positive).

    Floors first, then one extra unit to each of the ``total - sum(floors)`` largest remainders, ties to the
    lower index. All shares have the same denominator, so remainders compare as plain ints.
    """
    floors = [a // denominator for a in numerators]
    missing = total - sum(floors)
    if missing < 0 or missing > len(floors):
        raise ValueError("shares do not add up to the total")
    if missing:
        remainders = [a % denominator for a in numerators]
        if missing == 1:  # index() finds the first of equal maxima, i.e. the lower index
            floors[remainders.index(max(remainders))] += 1
        else:  # sorted() is stable, also with reverse=True: equal remainders keep index order
            for i in sorted(range(len(floors)), key=remainders.__getitem__, reverse=True)[:missing]:
                floors[i] += 1
    return floors


def _to_fraction(value: Weight) -> Fraction:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"weight must be finite, got {value!r}")
    return Fraction(value)


def _ratio(value: Weight) -> tuple[int, int]:
    """``(numerator, denominator)`` of ``value``, exactly (denominator positive); raises as ``_to_fraction``."""
    if type(value) is int:
        return value, 1
    # float (finiteness checked), Decimal, bool, subclasses, other Rationals: Fraction's own conversion and errors
    exact = value if type(value) is Fraction else _to_fraction(value)
    return exact.numerator, exact.denominator


def _common_numerators(ratios: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """Numerators of ``ratios`` over their least common denominator, and that denominator."""
    denominators = {d for _, d in ratios}
    if len(denominators) == 1:
        return [n for n, _ in ratios], denominators.pop()
    common = math.lcm(*denominators)
    return [n * (common // d) for n, d in ratios], common


def _float_numerators(weights: Sequence[float]) -> list[int]:
    """Numerators of finite ``float`` weights over a common denominator (powers of two: the largest one)."""
    ratios = [w.as_integer_ratio() for w in weights]
    common = max(d for _, d in ratios)
    return [n * (common // d) for n, d in ratios]


def quantize_credits(weights: Sequence[Weight]) -> list[Decimal]:
    """Normalise non-negative ``weights`` and round them to :data:`CREDIT_PLACES` places summing to exactly 1.

    ``[]`` gives ``[]``. Raises ``ValueError`` on a negative, non-finite or all-zero weight vector.
    """
    if not weights:
        return []
    if type(weights) is not list and type(weights) is not tuple:
        weights = list(weights)  # read any other iterable once, as a plain list
        if not weights:  # an empty iterator: all (zero) weights are zero
            raise ValueError("weights must not all be zero")
    # fast path for plain floats (time decay, data-driven): a finite sum means every weight is finite
    if all(type(w) is float for w in weights) and math.isfinite(sum(weights)):
        numerators = _float_numerators(weights)  # type: ignore[arg-type]
    else:
        numerators, _ = _common_numerators([_ratio(w) for w in weights])
    if min(numerators) < 0:
        raise ValueError("weights must be non-negative")
    total = sum(numerators)
    if total == 0:
        raise ValueError("weights must not all be zero")
    # share_i = w_i / sum(w) * SCALE = numerator_i * SCALE / total (the common denominator cancels)
    units = _largest_remainder([a * _CREDIT_SCALE for a in numerators], total, _CREDIT_SCALE)
    # ``1E-8 * u`` is ``Decimal(u).scaleb(-8)`` (same coefficient and exponent, same context rounding), 3x cheaper
    return [_CREDIT_EXP * u for u in units]


def unit_credit() -> Decimal:
    """``Decimal(1)`` at credit precision (``1.00000000``), the participation credit."""
    return _UNIT_CREDIT


def _fraction_ratio(value: Decimal) -> tuple[int, int]:
    exact = Fraction(value)
    return exact.numerator, exact.denominator


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
    exp = _MINOR_EXP[places]
    rounded = Decimal(revenue).quantize(exp)  # default context rounding is ROUND_HALF_EVEN
    if not credits:
        return []
    # Decimal.as_integer_ratio is exactly what Fraction(credit) uses, without building the Fraction
    ratios = [c.as_integer_ratio() if type(c) is Decimal else _fraction_ratio(c) for c in credits]
    if not ratios:  # an empty iterator
        return []
    numerators, denominator = _common_numerators(ratios)
    if min(numerators) < 0:
        raise ValueError("credits must be non-negative")
    minor = int(rounded.scaleb(places))
    if minor == 0:
        return [exp * 0] * len(numerators)
    amount = -minor if minor < 0 else minor
    # share_i = credit_i * amount = numerator_i * amount / denominator; target = round(sum of shares), half-even
    shares = [a * amount for a in numerators]
    target, rest = divmod(sum(shares), denominator)
    if 2 * rest > denominator or (2 * rest == denominator and target % 2):
        target += 1
    parts = [target] if len(shares) == 1 else _largest_remainder(shares, denominator, target)
    if minor < 0:
        parts = [-p for p in parts]
    if target < _exact_limit():  # every part has at most ``prec`` digits: ``exp * p`` is exact
        return [exp * p for p in parts]  # == Decimal(p).scaleb(-places).quantize(exp), 5x cheaper
    return [Decimal(p).scaleb(-places).quantize(exp) for p in parts]


def _exact_limit() -> int:
    """Integers below this have at most ``prec`` digits, so turning them into Decimals is exact in this context."""
    prec = getcontext().prec
    return _DEFAULT_LIMIT if prec == _DEFAULT_PREC else 10**prec
