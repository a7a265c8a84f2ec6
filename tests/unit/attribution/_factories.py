"""Builders shared by the attribution tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from multibuzz.domain.attribution import ModelResult, Touch

CONVERSION_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHANNELS = (
    "paid_search",
    "paid_social",
    "display",
    "affiliate",
    "email",
    "organic_search",
    "organic_social",
    "referral",
    "direct",
)


def journey(*channels: str, lead: int | None = None, step_days: float = 7.0) -> list[Touch]:
    """Touches ``s0, s1, ...`` ``step_days`` apart, the last one at the conversion time."""
    n = len(channels)
    return [
        Touch(
            session_id=f"s{i}",
            channel=channel,
            occurred_at=CONVERSION_AT - timedelta(days=step_days * (n - 1 - i)),
            is_lead=(i == lead),
        )
        for i, channel in enumerate(channels)
    ]


def credits_of(result: ModelResult) -> list[Decimal]:
    return [c.credit for c in result.credits]


def dec(*values: str) -> list[Decimal]:
    return [Decimal(v) for v in values]


@dataclass(frozen=True)
class RandomJourneys:
    """Columnar random conversions: touches sorted by (journey, time, index); session ids follow that order."""

    journey: np.ndarray
    channel: np.ndarray
    touched_at: np.ndarray  # datetime64[s]
    is_lead: np.ndarray
    converted_at: np.ndarray  # datetime64[s], per journey
    revenue: np.ndarray  # float, per journey (cents-exact)

    def touches(self, j: int) -> list[Touch]:
        rows = np.flatnonzero(self.journey == j)
        return [
            Touch(
                session_id=f"s{i:07d}",
                channel=CHANNELS[int(self.channel[i])],
                occurred_at=self.touched_at[i].astype(datetime).replace(tzinfo=UTC),
                is_lead=bool(self.is_lead[i]),
            )
            for i in rows
        ]

    def conversion_at(self, j: int) -> datetime:
        return self.converted_at[j].astype(datetime).replace(tzinfo=UTC)

    @property
    def size(self) -> int:
        return int(self.converted_at.shape[0])


def random_journeys(n_journeys: int, seed: int, *, mean_extra_touches: float = 1.5) -> RandomJourneys:
    """Random conversions with 1 + Poisson(mean) touches, hour-granular times (so ties happen) over 30 days."""
    rng = np.random.default_rng(seed)
    lengths = 1 + rng.poisson(mean_extra_touches, n_journeys)
    journey_ids = np.repeat(np.arange(n_journeys), lengths)
    m = int(lengths.sum())
    base = np.datetime64("2026-01-01T00:00:00", "s")
    converted_at = base + rng.integers(31 * 24, 90 * 24, n_journeys).astype("timedelta64[h]")
    ages = rng.integers(0, 30 * 24, m).astype("timedelta64[h]")
    touched_at = converted_at[journey_ids] - ages
    order = np.lexsort((np.arange(m), touched_at, journey_ids))
    channel = rng.choice(len(CHANNELS), m, p=[0.18, 0.14, 0.08, 0.05, 0.12, 0.16, 0.07, 0.05, 0.15])
    is_lead = rng.random(m) < 0.15
    revenue = rng.integers(0, 50_000, n_journeys) / 100.0
    return RandomJourneys(
        journey=journey_ids[order],
        channel=channel,
        touched_at=touched_at[order],
        is_lead=is_lead,
        converted_at=converted_at,
        revenue=revenue,
    )


def by_channel(results: Sequence[ModelResult]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for result in results:
        for credit in result.credits:
            totals[credit.channel] = totals.get(credit.channel, Decimal(0)) + credit.credit
    return totals
