"""Importing this module registers every scheduled job."""

from multibuzz.jobs import (
    retention,  # noqa: F401
    watchdog,  # noqa: F401
)
from multibuzz.services import model_fits  # noqa: F401
