"""First-order Markov-chain attribution with the removal effect (Anderl et al. 2016).

States: ``start``, one state per channel, and the absorbing ``conversion`` and ``null`` states. Every journey
``c_1 > ... > c_k`` contributes the transitions ``start→c_1, c_1→c_2, ..., c_k→(conversion | null)``; transition
probabilities are the maximum-likelihood estimates (row-normalised counts).

With ``Q`` the channel→channel block, ``r`` the channel→conversion column and ``s`` the start row, the
probability of converting is ``P = s · (I - Q)⁻¹ · r`` (absorption probability of an absorbing chain). Removing
channel ``c`` redirects every transition *out of* ``c`` to ``null`` (row ``c`` of ``Q`` and ``r`` set to 0), giving
``P₋c``. The removal effect is ``RE(c) = 1 - P₋c / P`` and the channel weight is ``RE(c) / Σ RE``. Everything is
solved exactly with one batched ``numpy.linalg.solve``; there is no simulation.

Self-transitions (``email > email``) are counted; they do not change absorption probabilities, so the result
equals that of tools (e.g. ChannelAttribution) that collapse repeats. Journeys without channels are ignored (the
caller credits them to ``direct``). :attr:`Journey.value` is not used: the chain is fitted on journey counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from .types import Journey

if TYPE_CHECKING:  # numpy is imported on first fit, keeping `import multibuzz` light for cold starts
    import numpy as np

SCHEMA_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class MarkovModel:
    """A fitted chain: normalised removal-effect ``weights`` per channel (sum 1, or empty without conversions).

    ``journeys`` and ``conversions`` count the non-empty journeys used by the fit.
    """

    weights: dict[str, float]
    fitted_at: datetime
    journeys: int
    conversions: int
    removal_effects: dict[str, float] = field(default_factory=dict)
    conversion_probability: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable representation (``fitted_at`` as ISO 8601)."""
        return {
            "kind": "markov",
            "schema": SCHEMA_VERSION,
            "weights": dict(self.weights),
            "fitted_at": self.fitted_at.isoformat(),
            "journeys": self.journeys,
            "conversions": self.conversions,
            "removal_effects": dict(self.removal_effects),
            "conversion_probability": self.conversion_probability,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MarkovModel:
        """Inverse of :meth:`to_dict`; rejects other kinds or newer schemas."""
        if data.get("kind") != "markov" or int(data.get("schema", 0)) > SCHEMA_VERSION:
            raise ValueError("not a markov model of a supported schema")
        return cls(
            weights={str(k): float(v) for k, v in data["weights"].items()},
            fitted_at=datetime.fromisoformat(data["fitted_at"]),
            journeys=int(data["journeys"]),
            conversions=int(data["conversions"]),
            removal_effects={str(k): float(v) for k, v in data.get("removal_effects", {}).items()},
            conversion_probability=float(data.get("conversion_probability", 0.0)),
        )


def _transition_counts(paths: Counter[tuple[tuple[str, ...], bool]]) -> tuple[list[str], np.ndarray]:
    """Count matrix over states ``[start, channels..., conversion, null]`` from aggregated paths.

    All paths are laid end to end as ``start c_1 .. c_k end`` in one int array; consecutive pairs are the
    transitions, except the pairs whose source is an absorbing state (the seam between two paths).
    """
    import numpy as np

    channels = sorted({c for path, _ in paths for c in path})
    index = {c: i + 1 for i, c in enumerate(channels)}.__getitem__
    size = len(channels) + 3
    conversion, null = size - 2, size - 1
    states: list[int] = []
    lengths: list[int] = []
    counts: list[int] = []
    for (path, converted), count in paths.items():
        states.append(0)
        states.extend(map(index, path))
        states.append(conversion if converted else null)
        lengths.append(len(path) + 2)
        counts.append(count)
    seq = np.asarray(states, dtype=np.int64)
    weights = np.repeat(np.asarray(counts, dtype=np.float64), lengths)
    source, target = seq[:-1], seq[1:]
    keep = source < conversion
    flat = source[keep] * size + target[keep]
    matrix = np.bincount(flat, weights=weights[:-1][keep], minlength=size * size)
    return channels, matrix.reshape(size, size)


def _removal_effects(matrix: np.ndarray) -> tuple[float, np.ndarray]:
    """``(P, RE)`` for a count matrix from :func:`_transition_counts` (``n`` channels, states 1..n)."""
    import numpy as np

    n = matrix.shape[0] - 3
    rows = matrix[1 : n + 1].sum(axis=1, keepdims=True)
    probs = np.divide(matrix[1 : n + 1], rows, out=np.zeros_like(matrix[1 : n + 1]), where=rows > 0)
    q = probs[:, 1 : n + 1]
    r = probs[:, n + 1]
    start = matrix[0, 1 : n + 1] / matrix[0].sum()
    eye = np.eye(n)
    # Batch 0 is the full chain; batch c+1 has channel c's outgoing row redirected to null.
    systems = np.repeat((eye - q)[None, :, :], n + 1, axis=0)
    rhs = np.repeat(r[None, :], n + 1, axis=0)
    for c in range(n):
        systems[c + 1, c, :] = eye[c]
        rhs[c + 1, c] = 0.0
    absorb = np.linalg.solve(systems, rhs[:, :, None])[:, :, 0]
    conv = absorb @ start
    total = float(conv[0])
    if total <= 0.0:
        return 0.0, np.zeros(n)
    effects = np.clip(1.0 - conv[1:] / total, 0.0, 1.0)
    return total, effects


def fit_markov(journeys: Iterable[Journey], *, fitted_at: datetime | None = None) -> MarkovModel:
    """Fit a first-order chain on ``journeys`` and return the normalised removal effects.

    Identical paths are aggregated first (a ``Counter``), so cost grows with distinct paths, not journeys.
    Without any conversion the weights are empty and per-conversion attribution falls back to linear.
    """
    paths: Counter[tuple[tuple[str, ...], bool]] = Counter((tuple(j.channels), bool(j.converted)) for j in journeys)
    for key in [k for k in paths if not k[0]]:
        del paths[key]
    total = paths.total()
    conversions = sum(count for (_, converted), count in paths.items() if converted)
    when = fitted_at or datetime.now(UTC)
    if conversions == 0:
        return MarkovModel(weights={}, fitted_at=when, journeys=total, conversions=0)
    channels, matrix = _transition_counts(paths)
    probability, effects = _removal_effects(matrix)
    norm = float(effects.sum())
    weights = {c: float(e) / norm for c, e in zip(channels, effects, strict=True)} if norm > 0 else {}
    return MarkovModel(
        weights=weights,
        fitted_at=when,
        journeys=total,
        conversions=conversions,
        removal_effects={c: float(e) for c, e in zip(channels, effects, strict=True)},
        conversion_probability=probability,
    )
