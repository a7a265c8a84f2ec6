"""What issue #16 (metrics, traces, correlation ids) costs the hot paths: this build beside a baseline build,
interleaved in the same run.

    PYTHONPATH=$PWD:$PWD/layers/shared .venv/bin/python bench/bench_ops_overhead.py [--base-ref REF]
        [--rounds 2] [--ingest-requests 10000] [--redirect-seconds 5] [--cold-repeat 5]

The baseline is ``REF`` (default: ``4e92217^1``, main just before #16 merged) exported with ``git archive``
to a temporary directory, with this build's ``bench/`` scripts copied over its own (one instrument for both).
Each round runs, for the baseline and then this build, the existing benches in that build's tree:
``bench_ingest_inprocess.py`` (server CPU per single-event POST /api/v1/events),
``bench_redirect_cold_start.py`` (redirect handler import and first answer, fresh interpreters) and
``bench_redirect.py`` (redirect req/s over loopback, and its ratio to a raw ASGI 302 in the same run).
Also the import cost of Powertools Tracer (``aws_xray_sdk``), the reason the redirect does not load it.
Figures: the best of the rounds per build, and this build / baseline. Then ``bench_telemetry_ab.py``: this
build's hot paths with the telemetry live and swapped for no-ops, alternated in one process, the figure
that separates #16's cost from two builds' drift.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
# main just before the operability branch merged (4e92217): the same features but #16's. Between it and main
# nothing else touched the hot paths (ingest/, runtime/, redirect/, adapters/, infra/local gateway), so the
# difference measured is #16's own.
BEFORE_OPS = "4e92217^1"


def export(ref: str, into: Path) -> Path:
    """The baseline's code, measured with this build's bench scripts (the same instrument on both sides)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for script in (ROOT / "bench").glob("*.py"):
        shutil.copy2(script, into / "bench" / script.name)
    return into


def run(build: Path, script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": f"{build}:{build / 'layers' / 'shared'}"}
    done = subprocess.run(
        [sys.executable, str(build / "bench" / script), *args], capture_output=True, text=True, env=env, cwd=build
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed in {build}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def figures(build: Path, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    ingest = run(build, "bench_ingest_inprocess.py", "--requests", str(args.ingest_requests))
    out["ingest_us_per_request"] = float(re.search(r"events: ([\d.]+) µs", ingest).group(1))  # type: ignore[union-attr]
    cold = run(build, "bench_redirect_cold_start.py", "--repeat", str(args.cold_repeat))
    for name in ("baseline", "handler_import", "handler_ready"):
        row = re.search(rf"\| {name} \| (\d+) \|", cold)
        out[f"cold_{name}_ms"] = float(row.group(1))  # type: ignore[union-attr]
    redirect = run(build, "bench_redirect.py", "--seconds", str(args.redirect_seconds), "--rounds", "1")
    out["redirect_rps"] = float(re.search(r"\| redirect \| (\d+) \|", redirect).group(1))  # type: ignore[union-attr]
    out["redirect_ratio_to_raw"] = float(re.search(r"raw req/s = ([\d.]+)", redirect).group(1))  # type: ignore[union-attr]
    return out


def tracer_import_ms() -> float:
    timer = "import time; t=time.perf_counter(); from aws_lambda_powertools import Tracer; import aws_xray_sdk.core;"
    timer += " print((time.perf_counter()-t)*1000)"
    samples = [float(subprocess.run([sys.executable, "-c", timer], capture_output=True, text=True, check=True).stdout)
               for _ in range(5)]  # fmt: skip
    return min(samples)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-ref", default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ingest-requests", type=int, default=10000)
    parser.add_argument("--redirect-seconds", type=int, default=5)
    parser.add_argument("--cold-repeat", type=int, default=5)
    parser.add_argument("--ab-pairs", type=int, default=12, help="pairs for bench_telemetry_ab.py")
    args = parser.parse_args()
    ref = args.base_ref or BEFORE_OPS
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mb-ops-base-") as tmp:
        builds = {"baseline": export(ref, Path(tmp)), "this build": ROOT}
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in builds}
        for _ in range(args.rounds):
            for name, build in builds.items():
                rounds[name].append(figures(build, args))
    higher_is_better = {"redirect_rps", "redirect_ratio_to_raw"}
    best = {
        name: {key: (max if key in higher_is_better else min)(r[key] for r in runs) for key in runs[0]}
        for name, runs in rounds.items()
    }
    tracer = tracer_import_ms()
    ab = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_telemetry_ab.py"), "--pairs", str(args.ab_pairs)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout  # fmt: skip
    print(f"\nissue #16 overhead: this build vs {ref[:10]} (best of {args.rounds} interleaved rounds)\n")
    print("| figure | baseline | this build | this / baseline |")
    print("|---|---:|---:|---:|")
    for key in best["baseline"]:
        base, this = best["baseline"][key], best["this build"][key]
        print(f"| {key} | {base:.2f} | {this:.2f} | {this / base:.3f} |")
    print(f"\nPowertools Tracer + aws_xray_sdk import (fresh interpreter, best of 5): {tracer:.0f} ms")
    print("\n" + "\n".join(line for line in ab.splitlines() if line.startswith(("|", "telemetry on"))))
    print(f"({time.monotonic() - started:.0f} s)")
    write_results(
        "ops_overhead",
        {"base_ref": ref, "rounds": rounds, "best": best, "tracer_import_ms": tracer, "args": vars(args)},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
