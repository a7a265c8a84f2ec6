"""Importing this module registers every message handler the attribution function serves."""
from multibuzz.consumers import clicks  # noqa: F401
from multibuzz.consumers import conversions  # noqa: F401
