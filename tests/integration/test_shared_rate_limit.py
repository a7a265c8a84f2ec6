"""The per-key rate limit holds across instances (shared bucket rows, leased in blocks), on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from multibuzz.ingest.ratelimit import SharedTokenBuckets, lease_block
from sqlalchemy import Engine, event

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def statements(db_clean: Engine) -> Iterator[Callable[[], int]]:
    count = [0]

    def seen(*_: object) -> None:
        count[0] += 1

    event.listen(db_clean, "before_cursor_execute", seen)
    yield lambda: count[0]
    event.remove(db_clean, "before_cursor_execute", seen)


def test_two_instances_together_admit_one_bucket_and_no_more(db_clean: Engine) -> None:
    clock = FakeClock()
    a = SharedTokenBuckets(db_clean, now=clock)
    b = SharedTokenBuckets(db_clean, now=clock)
    limit = 6000  # 100/s, leased 50 at a time
    admitted = 0
    for turn in range(20_000):
        instance = a if turn % 3 else b  # uneven interleaving
        if instance.take("key_1", limit) == 0.0:
            admitted += 1
    assert admitted == limit, "the full burst of one bucket, shared, not one per instance"
    wait = a.take("key_1", limit)
    assert 0 < wait <= 0.01 + 1 / 100
    clock.now += 2.0  # refills 200 tokens for the key, whoever leases them
    more = sum(1 for turn in range(1000) if (a if turn % 2 else b).take("key_1", limit) == 0.0)
    assert more == 200
    assert SharedTokenBuckets(db_clean, now=clock).take("key_2", limit) == 0.0, "keys have their own buckets"


def test_a_lease_serves_a_block_from_memory(db_clean: Engine, statements: Callable[[], int]) -> None:
    clock = FakeClock()
    limiter = SharedTokenBuckets(db_clean, now=clock)
    block = lease_block(6000)
    assert block == 50
    assert limiter.take("key_1", 6000) == 0.0
    before = statements()
    assert all(limiter.take("key_1", 6000) == 0.0 for _ in range(block - 1))
    assert statements() == before, "the rest of the block costs no SQL"
    limiter.take("key_1", 6000)
    assert statements() > before, "the next block is leased from the database"


def test_a_refused_key_does_not_query_the_database_per_request(db_clean: Engine, statements: Callable[[], int]) -> None:
    clock = FakeClock()
    limiter = SharedTokenBuckets(db_clean, now=clock)
    assert [limiter.take("key_1", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    first = limiter.take("key_1", 3)
    assert first == pytest.approx(20.0)
    before = statements()
    clock.now += 0.5
    assert limiter.take("key_1", 3) == pytest.approx(19.5), "the wait still counts down"
    assert statements() == before
    clock.now += 19.5
    assert limiter.take("key_1", 3) == 0.0


SCRIPT = """
import json, sys, time
from multibuzz.db.engine import make_engine
from multibuzz.ingest.ratelimit import SharedTokenBuckets
limiter = SharedTokenBuckets(make_engine(sys.argv[1]))
admitted = 0
start = time.time()
for _ in range(int(sys.argv[2])):
    if limiter.take("key_proc", int(sys.argv[3])) == 0.0:
        admitted += 1
print(json.dumps({"admitted": admitted, "start": start, "end": time.time()}))
"""


def test_two_processes_sharing_the_database_stay_within_the_bound(db_clean: Engine, database_url: str) -> None:
    limit = 240  # 4 tokens/s, leased 2 at a time
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, database_url, "400", str(limit)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    admitted = sum(r["admitted"] for r in results)
    span = max(r["end"] for r in results) - min(r["start"] for r in results)
    bound = limit + span * limit / 60.0
    assert admitted <= bound, (admitted, span)
    assert admitted >= limit - 2 * lease_block(limit), "at most one block per instance is left unspent"
