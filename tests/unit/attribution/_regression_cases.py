"""Seeded random conversions and rounding inputs whose outputs are pinned by a digest (``test_regression_digest``).

Everything is built from :class:`random.Random` with integer draws and hard-coded fits (no numpy, no fitted
floats), so the inputs - and therefore the digests - are identical on every machine.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

from multibuzz.domain.attribution import MODELS, MarkovModel, ModelResult, ShapleyModel, Touch, minor_units
from multibuzz.domain.attribution.rounding import Weight

from ._factories import CHANNELS

FITTED_AT = datetime(2026, 1, 1, tzinfo=UTC)
BASE = datetime(2026, 1, 1, tzinfo=UTC)
CURRENCIES = ("USD", "JPY", "KWD")
HALF_LIVES = (7.0, 1.0, 0.5, 30.0, 365.0, 0.01, 2.5)
ZONES = (None, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)))

#: Hard-coded fits (awkward floats, missing and zero-weight channels) so no numpy result enters the digest.
MARKOV_FIT = MarkovModel(
    weights={
        "paid_search": 0.2718281828459045,
        "paid_social": 0.1414213562373095,
        "display": 0.0,
        "affiliate": 1e-300,
        "email": 0.3333333333333333,
        "organic_search": 0.25,
        "direct": 0.0009765625000000002,
    },
    fitted_at=FITTED_AT,
    journeys=10,
    conversions=5,
)
SHAPLEY_FIT = ShapleyModel(
    weights={"paid_search": 0.7, "email": 0.1, "referral": 0.2, "display": 0.0, "direct": 0.0},
    fitted_at=FITTED_AT,
    journeys=10,
    conversions=5,
)
SPARSE_FIT = ShapleyModel(weights={"affiliate": 1.0}, fitted_at=FITTED_AT, journeys=1, conversions=1)
FITS: tuple[tuple[MarkovModel | None, ShapleyModel | None], ...] = (
    (MARKOV_FIT, SHAPLEY_FIT),
    (None, None),
    (MARKOV_FIT, None),
    (None, SPARSE_FIT),
)


@dataclass(frozen=True)
class Case:
    """One conversion: touches (shuffled), conversion time, half-life, fits, revenue and currency."""

    touches: list[Touch]
    conversion_at: datetime
    half_life_days: float
    markov: MarkovModel | None
    shapley: ShapleyModel | None
    revenue: Decimal
    currency: str


def _revenue(rng: random.Random, currency: str) -> Decimal:
    places = minor_units(currency)
    kind = rng.randrange(10)
    if kind == 0:
        return Decimal(0)
    if kind == 1:
        minor = rng.randrange(1, 20)  # fewer minor units than touches
    elif kind == 2:
        minor = rng.randrange(10**9, 10**13)
    elif kind == 3:  # finer than the minor unit: rounded half-even first
        return Decimal(rng.randrange(-(10**7), 10**7)).scaleb(-places - 1)
    else:
        minor = rng.randrange(0, 10**7)
    if rng.random() < 0.25:
        minor = -minor
    return Decimal(minor).scaleb(-places)


def cases(count: int = 2000, seed: int = 20260301) -> Iterator[Case]:
    """``count`` random conversions of 1-8 touches (ties, clock skew, naive/offset datetimes, leads, refunds)."""
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.randint(1, 8)
        conversion_at = BASE + timedelta(minutes=rng.randrange(60 * 24 * 90))
        ids = rng.sample(range(1000), n)
        touches = []
        for sid in ids:
            if rng.random() < 0.5:
                age = timedelta(hours=rng.choice((0, 1, 24, 48, 168, 720)))
            else:
                age = timedelta(seconds=rng.randrange(-3600, 60 * 86_400))
            at = conversion_at - age
            zone = rng.choice(ZONES)
            at = at.replace(tzinfo=None) if zone is None else at.astimezone(zone)
            touches.append(Touch(f"s{sid:03d}", rng.choice(CHANNELS), at, rng.random() < 0.2))
        rng.shuffle(touches)
        markov, shapley = rng.choice(FITS)
        currency = rng.choice(CURRENCIES)
        yield Case(touches, conversion_at, rng.choice(HALF_LIVES), markov, shapley, _revenue(rng, currency), currency)


def _weight(rng: random.Random) -> Weight:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randrange(0, 5)
    if kind == 1:
        return Fraction(rng.randrange(0, 50), rng.randrange(1, 50))
    if kind == 2:
        return rng.random() * 10 ** rng.randrange(-300, 300)
    if kind == 3:
        return 2.0 ** -rng.randrange(0, 1100)  # down to subnormals and 0.0
    if kind == 4:
        return Decimal(rng.randrange(0, 10**9)).scaleb(-rng.randrange(0, 12))
    return rng.random()


def _credit(rng: random.Random) -> Decimal:
    kind = rng.randrange(3)
    if kind == 0:
        return Decimal(1).quantize(Decimal("1E-8"))
    if kind == 1:
        return Decimal(rng.randrange(0, 10**8)).scaleb(-8)
    return Decimal(rng.randrange(0, 10**6)).scaleb(-rng.randrange(0, 9))


def rounding_cases(count: int = 2000, seed: int = 7) -> Iterator[tuple[list[Weight], list[Decimal], Decimal, str]]:
    """Weight vectors (mixed types) for ``quantize_credits`` and credit vectors (any sum) for ``allocate_revenue``."""
    rng = random.Random(seed)
    for _ in range(count):
        weights = [_weight(rng) for _ in range(rng.randint(1, 30))]
        credits = [_credit(rng) for _ in range(rng.randint(1, 12))]
        currency = rng.choice((*CURRENCIES, "CLF", "EUR"))
        yield weights, credits, _revenue(rng, currency), currency


Attribute = Callable[..., dict[str, ModelResult]]
RevenueCredits = Callable[[ModelResult, Decimal, str], list[Decimal]]


def engine_outputs(case: Case, attribute: Attribute, revenue_credits: RevenueCredits) -> list[Any]:
    """Every model's result and revenue credits for ``case`` (the exact objects compared and digested)."""
    results = attribute(
        case.touches,
        case.conversion_at,
        models=MODELS,
        half_life_days=case.half_life_days,
        markov=case.markov,
        shapley=case.shapley,
    )
    return [(name, result, revenue_credits(result, case.revenue, case.currency)) for name, result in results.items()]


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (ValueError, ArithmeticError) as error:
        return (type(error).__name__, str(error))


def rounding_outputs(
    weights: Sequence[Weight],
    credits: Sequence[Decimal],
    revenue: Decimal,
    currency: str,
    quantize_credits: Callable[[Sequence[Weight]], list[Decimal]],
    allocate_revenue: Callable[[Sequence[Decimal], Decimal, str], list[Decimal]],
) -> list[Any]:
    """``quantize_credits`` of the weights, then ``allocate_revenue`` of them and of the raw credits."""
    quantized = _outcome(lambda: quantize_credits(weights))
    out = [quantized, _outcome(lambda: allocate_revenue(credits, revenue, currency))]
    if isinstance(quantized, list):
        out.append(_outcome(lambda: allocate_revenue(quantized, revenue, currency)))
    return out


def digest(items: Iterator[Any]) -> str:
    """sha256 over the ``repr`` of every item (``repr`` keeps Decimal exponents, so ``1.0`` != ``1.00``)."""
    h = hashlib.sha256()
    for item in items:
        h.update(repr(item).encode())
        h.update(b"\n")
    return h.hexdigest()
