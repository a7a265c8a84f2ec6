"""Cold import time of the redirect handler vs ``import boto3; boto3.client("sqs")``, same run.

    .venv/bin/python bench/bench_redirect_cold_start.py [--repeat 7]

Each sample is a fresh interpreter (``python -X importtime`` is not used: wall time of the statement
inside the child, measured with ``perf_counter`` around it, so interpreter start-up is excluded for both).
Best-of-N per contender, plus the median. Contenders:
- ``baseline``: ``import boto3; boto3.client("sqs", region_name="us-east-1")`` — what any SQS producer pays;
- ``handler_import``: ``import functions.redirect.handler`` — the module Lambda imports at init;
- ``handler_ready``: import + the first invocation against a prepared SQLite database and the local
  queue (settings, engine, link lookup, click buffered) — the whole cold start locally;
- ``handler_ready_sqs``: import + build the SQS client the redirect uses on AWS (``queue_backend=sqs``):
  the AWS init cost of the redirect (no network call is made).
Goal: handler_import <= 2x baseline. Results: a table and ``bench/results/redirect_cold_start.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
GOAL = 2.0

TIMER = """
import time, json, sys
t0 = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""

BASELINE = 'import boto3\nboto3.client("sqs", region_name="us-east-1")'
IMPORT = "import functions.redirect.handler"
READY = """import functions.redirect.handler as h
event = {{"rawPath": "/r/{code}", "rawQueryString": "", "headers": {{"user-agent": "bench"}},
         "pathParameters": {{"code": "{code}"}},
         "requestContext": {{"http": {{"method": "GET", "sourceIp": "192.0.2.1"}}}}}}
result = h.lambda_handler(event, None)
assert result["statusCode"] == 302, result
h.lambda_handler.flush()"""
READY_SQS = """import functions.redirect.handler as h
from multibuzz.bootstrap import get_container
get_container().queue.client"""


def run(body: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(body=body)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(ROOT),
        check=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mb-cold-") as tmp:
        data_dir = Path(tmp)
        sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]
        from bench_redirect import environment, prepare
        from multibuzz import topology

        code = prepare(data_dir)
        env = environment(data_dir)
        env.setdefault("AWS_ACCESS_KEY_ID", "bench")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        sqs_env = {
            **env,
            "MULTIBUZZ_QUEUE_BACKEND": "sqs",
            # every queue of the topology (SQS settings refuse to start without each one's URL)
            **{f"MULTIBUZZ_{q.name.upper()}_QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/0/{q.name}"
               for q in topology.QUEUES},
        }  # fmt: skip
        contenders = {
            "baseline": (BASELINE, env),
            "handler_import": (IMPORT, env),
            "handler_ready": (READY.format(code=code), env),
            "handler_ready_sqs": (READY_SQS, sqs_env),
        }
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeat):  # interleaved, so load changes hit every contender alike
            for name, (body, environ) in contenders.items():
                samples[name].append(run(body, environ))
    best = {name: min(values) for name, values in samples.items()}
    median = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {name: best[name] / best["baseline"] for name in samples}
    result = {
        "benchmark": "redirect_cold_start",
        "repeat": args.repeat,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "best_seconds": best,
        "median_seconds": median,
        "ratio_vs_baseline_best": ratios,
        "goal": {"handler_import <= 2x baseline": ratios["handler_import"] <= GOAL},
        "samples": samples,
    }
    print(f"\nredirect cold start (fresh interpreter per sample, best of {args.repeat})\n")
    print("| contender | best ms | median ms | x baseline |")
    print("|---|---:|---:|---:|")
    for name in samples:
        print(f"| {name} | {best[name] * 1000:.0f} | {median[name] * 1000:.0f} | {ratios[name]:.2f} |")
    met = "met" if ratios["handler_import"] <= GOAL else "NOT met"
    print(f"\nhandler import / boto3 SQS client = {ratios['handler_import']:.2f} (goal <= {GOAL}): {met}")
    write_results("redirect_cold_start", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
