"""Data-driven Shapley attribution (set-based, Zhao et al. 2018, "Shapley Value Methods for Attribution
Modeling in Online Advertising").

Characteristic function: ``v(S) = Σ r(T)`` over channel *sets* ``T ⊆ S``, where ``r(T)`` is the number (or, with
``use_value=True``, the total value) of converting journeys whose set of distinct channels is exactly ``T``.
Non-converting journeys do not enter ``v``. The Shapley value of channel ``i`` over the ``n`` channels present in
converting journeys is

    φ_i = Σ_{S ⊆ N \\ {i}}  |S|! (n - |S| - 1)! / n!  · (v(S | {i}) - v(S)).

``n ≤ exact_max_channels`` (default 12): computed by enumerating all ``2^n`` coalitions — ``v`` by a subset-sum
(zeta) transform and ``φ`` by the formula above, both ``O(2^n · n)`` with numpy.

Above the threshold: the closed form ``φ_i = Σ_{T ∋ i} r(T) / |T|`` ("simplified Shapley" of Zhao et al.). It is
*not* an approximation: ``v`` is the sum of unanimity games ``r(T)·u_T`` whose Shapley value is ``r(T)/|T|`` on each
member of ``T`` (Harsanyi dividends), so it equals the enumeration exactly (tested) at ``O(#sets · |T|)`` cost.
The enumeration is kept because it is the textbook definition and an independent check.

Weights are ``φ / Σφ`` (``Σφ = v(N)`` by efficiency); channels seen only in non-converting journeys get 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from .types import Journey

if TYPE_CHECKING:  # numpy is imported on first fit, keeping `import multibuzz` light for cold starts
    import numpy as np

SCHEMA_VERSION: Final = 1
DEFAULT_EXACT_MAX_CHANNELS: Final = 12
MAX_ENUMERATION_CHANNELS: Final = 20
Method = Literal["enumeration", "closed_form"]


@dataclass(frozen=True, slots=True)
class ShapleyModel:
    """Fitted Shapley weights per channel (sum 1, or empty without conversions)."""

    weights: dict[str, float]
    fitted_at: datetime
    journeys: int
    conversions: int
    method: Method = "enumeration"
    use_value: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation (``fitted_at`` as ISO 8601)."""
        return {
            "kind": "shapley",
            "schema": SCHEMA_VERSION,
            "weights": dict(self.weights),
            "fitted_at": self.fitted_at.isoformat(),
            "journeys": self.journeys,
            "conversions": self.conversions,
            "method": self.method,
            "use_value": self.use_value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShapleyModel:
        """Inverse of :meth:`to_dict`; rejects other kinds or newer schemas."""
        if data.get("kind") != "shapley" or int(data.get("schema", 0)) > SCHEMA_VERSION:
            raise ValueError("not a shapley model of a supported schema")
        method = data.get("method", "enumeration")
        if method not in ("enumeration", "closed_form"):
            raise ValueError(f"unknown shapley method {method!r}")
        return cls(
            weights={str(k): float(v) for k, v in data["weights"].items()},
            fitted_at=datetime.fromisoformat(data["fitted_at"]),
            journeys=int(data["journeys"]),
            conversions=int(data["conversions"]),
            method=method,
            use_value=bool(data.get("use_value", False)),
        )


def shapley_enumeration(sets: Mapping[frozenset[str], float], channels: list[str]) -> np.ndarray:
    """Exact Shapley values of ``channels`` by enumerating every coalition (``O(2^n · n)``)."""
    import numpy as np

    n = len(channels)
    bit = {c: 1 << i for i, c in enumerate(channels)}
    v = np.zeros(1 << n)
    for members, worth in sets.items():
        v[sum(bit[c] for c in members)] += worth
    for i in range(n):  # zeta transform: v(S) = Σ_{T ⊆ S} r(T)
        view = v.reshape(-1, 2, 1 << i)
        view[:, 1, :] += view[:, 0, :]
    masks = np.arange(1 << n)
    sizes = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):
        sizes += (masks >> i) & 1
    factor = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    phi = np.empty(n)
    for i in range(n):
        view = v.reshape(-1, 2, 1 << i)
        without = view[:, 0, :].ravel()  # v(S), S ∌ i
        gain = view[:, 1, :].ravel() - without  # v(S | {i}) - v(S)
        phi[i] = float(np.dot(factor[sizes.reshape(-1, 2, 1 << i)[:, 0, :].ravel()], gain))
    return phi


def shapley_closed_form(sets: Mapping[frozenset[str], float], channels: list[str]) -> np.ndarray:
    """Exact Shapley values via Harsanyi dividends: ``φ_i = Σ_{T ∋ i} r(T) / |T|``."""
    import numpy as np

    index = {c: i for i, c in enumerate(channels)}
    phi = np.zeros(len(channels))
    for members, worth in sets.items():
        share = worth / len(members)
        for c in members:
            phi[index[c]] += share
    return phi


def fit_shapley(
    journeys: Iterable[Journey],
    *,
    exact_max_channels: int = DEFAULT_EXACT_MAX_CHANNELS,
    use_value: bool = False,
    fitted_at: datetime | None = None,
) -> ShapleyModel:
    """Fit channel Shapley weights on ``journeys`` (see module docstring for the game and the two methods).

    ``exact_max_channels`` may be 0..20 (the enumeration holds ``2^n`` floats; 2^20 is 8 MB).
    """
    import numpy as np

    if not 0 <= exact_max_channels <= MAX_ENUMERATION_CHANNELS:
        raise ValueError(f"exact_max_channels must be within 0..{MAX_ENUMERATION_CHANNELS}")
    sets: defaultdict[frozenset[str], float] = defaultdict(float)
    seen: set[str] = set()
    total = conversions = 0
    for journey in journeys:
        if not journey.channels:
            continue
        total += 1
        members = frozenset(journey.channels)
        seen |= members
        if journey.converted:
            conversions += 1
            sets[members] += float(journey.value) if use_value else 1.0
    when = fitted_at or datetime.now(UTC)
    channels = sorted({c for members in sets for c in members})
    method: Method = "enumeration" if len(channels) <= exact_max_channels else "closed_form"
    weights: dict[str, float] = {}
    if channels:
        phi = (shapley_enumeration if method == "enumeration" else shapley_closed_form)(sets, channels)
        phi = np.clip(phi, 0.0, None)  # only reachable with negative values (use_value with net refunds)
        norm = float(phi.sum())
        if norm > 0:
            weights = dict.fromkeys(sorted(seen), 0.0)
            weights.update({c: float(p) / norm for c, p in zip(channels, phi, strict=True)})
    return ShapleyModel(
        weights=weights,
        fitted_at=when,
        journeys=total,
        conversions=conversions,
        method=method,
        use_value=use_value,
    )
