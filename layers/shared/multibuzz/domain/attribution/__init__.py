"""Attribution engine: ten models side by side, exact Decimal credits (ARCHITECTURE.md section 3).

Pure domain code: no database, no HTTP, no I/O. Entry points:

* :func:`attribute` - credits of every model for one conversion;
* :func:`revenue_credits` - split the conversion revenue over one model's credits;
* :func:`fit_markov` / :func:`fit_shapley` - fit the data-driven models on an account's journeys;
* :func:`attribute_batch` - vectorised heuristic re-attribution of many conversions.
"""

from typing import TYPE_CHECKING, Any

from .engine import attribute, revenue_credits
from .markov import MarkovModel, fit_markov
from .rounding import CREDIT_PLACES, allocate_revenue, minor_units, quantize_credits
from .shapley import ShapleyModel, fit_shapley
from .types import HEURISTIC_MODELS, MODELS, Credit, Journey, ModelResult, Touch

if TYPE_CHECKING:
    from .batch import BatchResult, attribute_batch


def __getattr__(name: str) -> Any:
    """Load the numpy-based batch path on first use (numpy costs ~80 ms of import time)."""
    if name in ("BatchResult", "attribute_batch"):
        from . import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CREDIT_PLACES",
    "HEURISTIC_MODELS",
    "MODELS",
    "BatchResult",
    "Credit",
    "Journey",
    "MarkovModel",
    "ModelResult",
    "ShapleyModel",
    "Touch",
    "allocate_revenue",
    "attribute",
    "attribute_batch",
    "fit_markov",
    "fit_shapley",
    "minor_units",
    "quantize_credits",
    "revenue_credits",
]
