"""Value types of the attribution engine.

A *touch* is one marketing session of the converting identity inside the lookback window. A *credit* is the
share of one conversion given to one touch. Everything here is immutable and free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal

FIRST_TOUCH: Final = "first_touch"
LAST_TOUCH: Final = "last_touch"
LAST_NON_DIRECT: Final = "last_non_direct"
LINEAR: Final = "linear"
TIME_DECAY: Final = "time_decay"
POSITION_BASED: Final = "position_based"
W_SHAPED: Final = "w_shaped"
PARTICIPATION: Final = "participation"
MARKOV: Final = "markov"
SHAPLEY: Final = "shapley"

#: The eight rule-based models, in the order of ARCHITECTURE.md section 3.
HEURISTIC_MODELS: Final[tuple[str, ...]] = (
    FIRST_TOUCH,
    LAST_TOUCH,
    LAST_NON_DIRECT,
    LINEAR,
    TIME_DECAY,
    POSITION_BASED,
    W_SHAPED,
    PARTICIPATION,
)
#: The two models fitted from an account's journeys.
DATA_DRIVEN_MODELS: Final[tuple[str, ...]] = (MARKOV, SHAPLEY)
#: All ten models, in the order of ARCHITECTURE.md section 3.
MODELS: Final[tuple[str, ...]] = HEURISTIC_MODELS + DATA_DRIVEN_MODELS
#: The same ten names as a type, for request parameters (a test checks it equals MODELS).
ModelName = Literal[
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "participation",
    "markov",
    "shapley",
]

#: Channel name that ``last_non_direct`` skips.
DIRECT_CHANNEL: Final = "direct"

Fallback = Literal["linear"]


@dataclass(frozen=True, slots=True)
class Touch:
    """One session of the converting identity.

    ``is_lead`` marks the session of the identity's first signup/lead/acquisition event (used by ``w_shaped``).
    """

    session_id: str
    channel: str
    occurred_at: datetime
    is_lead: bool = False


@dataclass(frozen=True, slots=True)
class Credit:
    """Fraction of one conversion credited to one touch (a Decimal with :data:`CREDIT_PLACES` places)."""

    session_id: str
    channel: str
    credit: Decimal


@dataclass(frozen=True, slots=True)
class ModelResult:
    """Credits of one model for one conversion, in chronological touch order.

    ``fallback`` is ``"linear"`` when a data-driven model had no usable fit and linear credits were returned.
    """

    model: str
    credits: list[Credit]
    fallback: Fallback | None = None


@dataclass(frozen=True, slots=True)
class Journey:
    """One identity's path of channels (chronological) for fitting Markov/Shapley models.

    ``value`` is the conversion value; only :func:`fit_shapley` with ``use_value=True`` reads it.
    """

    channels: tuple[str, ...]
    converted: bool
    value: float = 1.0
