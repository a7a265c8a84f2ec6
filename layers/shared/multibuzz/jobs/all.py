"""Importing this module registers every scheduled job."""

from multibuzz.jobs import retention  # noqa: F401
