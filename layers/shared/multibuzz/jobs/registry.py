from __future__ import annotations

from collections.abc import Callable
from typing import Any

from multibuzz.bootstrap import Container

Job = Callable[[Container, dict[str, Any]], dict[str, Any]]

_JOBS: dict[str, Job] = {}


def job(detail_type: str) -> Callable[[Job], Job]:
    def register(func: Job) -> Job:
        _JOBS[detail_type] = func
        return func

    return register


def job_for(detail_type: str) -> Job:
    try:
        return _JOBS[detail_type]
    except KeyError:
        raise KeyError(f"no job for detail-type {detail_type!r}") from None


def registered_jobs() -> list[str]:
    return sorted(_JOBS)
