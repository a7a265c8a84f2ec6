"""Importing this module registers every message handler the attribution function serves."""

from multibuzz.consumers import (
    clicks,  # noqa: F401
    conversions,  # noqa: F401
    tracking,  # noqa: F401
)
from multibuzz.privacy import consumer  # noqa: F401 - privacy.erase
