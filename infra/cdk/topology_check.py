"""Refuse a topology the deployment could not represent, with a message naming the problem."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from multibuzz import topology


def _duplicates(items: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(items).items() if count > 1)


def problems() -> list[str]:
    found: list[str] = []
    queue_names = {q.name for q in topology.QUEUES}
    checks = {
        "function": (fn.name for fn in topology.FUNCTIONS),
        "queue": (q.name for q in topology.QUEUES),
        "route": (route for route, _ in topology.all_routes()),
        "schedule": (s.name for fn in topology.FUNCTIONS for s in fn.schedules),
    }
    for kind, names in checks.items():
        found += [f"topology.py declares {kind} {name!r} more than once" for name in _duplicates(names)]
    for fn in topology.FUNCTIONS:
        for queue_name in [c.queue for c in fn.consumes] + list(fn.publishes):
            if queue_name not in queue_names:
                found.append(f"function {fn.name!r} uses queue {queue_name!r}, which QUEUES does not declare")
        found += [
            f"function {fn.name!r} consumes queue {name!r} more than once"
            for name in _duplicates(c.queue for c in fn.consumes)
        ]
    return found


def check() -> None:
    if found := problems():
        raise ValueError("invalid topology:\n  " + "\n  ".join(found))
