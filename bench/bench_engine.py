"""Micro-benchmark of the per-conversion engine: ``attribute`` + ``revenue_credits`` for all ten models.

    .venv/bin/python bench/bench_engine.py [--conversions 400] [--repeat 5]

Prints CPU microseconds per conversion (``time.process_time``, steadier than wall time on a shared machine) at 1,
3 and 8 touches: best of ``--repeat`` interleaved runs over ``--conversions`` seeded conversions, Markov and Shapley
fits present, revenue in USD/JPY/KWD incl. refunds.

* ``engine``: as in production, the engine's memo caches (positional and data-driven credit vectors) warm;
* ``cold``: the same with those caches emptied before every conversion (no benefit from repeated journey shapes);
* ``reference``: when the frozen Fraction-based engine (``tests/unit/attribution/_reference_rounding.py``) is
  importable, measured in the same run on the same inputs; the outputs of all three are checked to be identical
  (``repr``, so Decimal exponents count).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from multibuzz.domain.attribution import MODELS, MarkovModel, ShapleyModel, Touch, attribute, revenue_credits

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("paid_search", "paid_social", "display", "affiliate", "email", "organic_search", "referral", "direct")
FITTED_AT = datetime(2026, 1, 1, tzinfo=UTC)
MARKOV = MarkovModel(
    weights={c: 0.05 + 0.1 * i for i, c in enumerate(CHANNELS)}, fitted_at=FITTED_AT, journeys=1, conversions=1
)
SHAPLEY = ShapleyModel(
    weights={c: 1.0 / (i + 1) for i, c in enumerate(CHANNELS)}, fitted_at=FITTED_AT, journeys=1, conversions=1
)

Conversion = tuple[list[Touch], datetime, Decimal, str]
Engine = tuple[Callable[..., Any], Callable[..., Any]]


def conversions(n_touches: int, count: int, seed: int) -> list[Conversion]:
    rng = random.Random(seed)
    out = []
    for k in range(count):
        at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(100_000))
        touches = [
            Touch(
                f"c{k}s{i}",
                rng.choice(CHANNELS),
                at - timedelta(minutes=rng.randrange(30 * 24 * 60)),
                rng.random() < 0.3,
            )
            for i in range(n_touches)
        ]
        currency = rng.choice(("USD", "USD", "USD", "JPY", "KWD"))
        revenue = Decimal(rng.randrange(-5_000, 100_000)).scaleb(-2 if currency == "USD" else 0)
        out.append((touches, at, revenue, currency))
    return out


def run(engine: Engine, data: list[Conversion]) -> list[Any]:
    attribute_fn, revenue_fn = engine
    out = []
    for touches, at, revenue, currency in data:
        results = attribute_fn(touches, at, models=MODELS, markov=MARKOV, shapley=SHAPLEY)
        out.append([(r, revenue_fn(r, revenue, currency)) for r in results.values()])
    return out


def micros_per_conversion(engines: list[Engine], data: list[Conversion], repeat: int) -> list[float]:
    """Best-of-``repeat`` µs per conversion of each engine; runs are interleaved so load spikes hit all alike."""
    best = [float("inf")] * len(engines)
    for _ in range(repeat):
        for i, engine in enumerate(engines):
            start = time.process_time()
            run(engine, data)
            best[i] = min(best[i], time.process_time() - start)
    return [b / len(data) * 1e6 for b in best]


def cold_engine() -> Engine:
    """The engine with its memo caches emptied before every conversion."""
    from multibuzz.domain.attribution import engine as module

    def attribute_cold(*args: Any, **kwargs: Any) -> Any:
        module._positional_credits.cache_clear()
        module._data_driven_credits.cache_clear()
        return attribute(*args, **kwargs)

    return attribute_cold, revenue_credits


def reference_engine() -> Engine | None:
    sys.path.insert(0, str(ROOT))
    try:
        from tests.unit.attribution import _reference_rounding as ref
    except ImportError:
        return None
    return ref.attribute, ref.revenue_credits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversions", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warm, cold, old = (attribute, revenue_credits), cold_engine(), reference_engine()
    print("| touches | engine µs/conversion | cold µs/conversion | reference µs/conversion | speed-up engine (cold) |")
    print("|---:|---:|---:|---:|---:|")
    for n in (1, 3, 8):
        data = conversions(n, args.conversions, seed=n)
        (cold_us,) = micros_per_conversion([cold], data, args.repeat)  # first: it empties the caches
        engines = [warm] if old is None else [warm, old]
        outputs = {repr(run(engine, data)) for engine in [cold, *engines]}  # ends with the caches warm
        if len(outputs) != 1:
            raise SystemExit(f"outputs differ between engines at {n} touches")
        us = micros_per_conversion(engines, data, args.repeat)
        if old is None:
            print(f"| {n} | {us[0]:.1f} | {cold_us:.1f} | - | - |")
        else:
            print(
                f"| {n} | {us[0]:.1f} | {cold_us:.1f} | {us[1]:.1f} | {us[1] / us[0]:.1f}x ({us[1] / cold_us:.1f}x) |"
            )


if __name__ == "__main__":
    main()
