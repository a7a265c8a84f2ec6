"""Importing this module registers every scheduled job."""

from multibuzz.commerce import jobs as commerce_jobs  # noqa: F401
from multibuzz.commerce.meta import jobs as meta_jobs  # noqa: F401
from multibuzz.jobs import (
    retention,  # noqa: F401
    watchdog,  # noqa: F401
)
from multibuzz.reports import jobs as report_jobs  # noqa: F401
from multibuzz.services import model_fits  # noqa: F401
