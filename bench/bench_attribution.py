"""Benchmark of the attribution engine against peer packages (same data, same run).

    .venv/bin/python bench/bench_attribution.py [--journeys 100000] [--repeat 3]

Data (fixed seed): 100k journeys, ~250k touches, ~30k conversions, 10 channels (incl. direct). Measured with
best-of-N ``time.perf_counter``; input preparation (arrays, DataFrames, Journey objects) is outside the timings
of every contender, so peers are timed on their ready-made input.

(a) our ``attribute_batch`` (all 8 rule-based models + per-channel credit and revenue totals) vs
    ``marketing-attribution-models`` running first/last/linear/position-based/time-decay on the same conversions;
(b) the same vs ``channelattribution.heuristic_models`` (first/last/linear) on the same paths;
(c) our exact ``fit_markov`` on the 100k journeys vs ``channelattribution.markov_model`` (simulation, default
    settings) on the same journeys aggregated by path, with removal-effect weights side by side.

Figures are printed as a markdown table and written to ``bench/results/attribution.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from multibuzz.domain.attribution import (
    Journey,
    Touch,
    attribute,
    attribute_batch,
    fit_markov,
    fit_shapley,
)

CHANNELS = (
    "paid_search",
    "paid_social",
    "display",
    "affiliate",
    "email",
    "sms",
    "organic_search",
    "organic_social",
    "referral",
    "direct",
)
POPULARITY = np.array([0.16, 0.13, 0.10, 0.04, 0.10, 0.03, 0.16, 0.08, 0.05, 0.15])
# per-channel lift of the conversion odds, so Markov weights differ between channels
LIFT = np.array([0.30, 0.20, 0.05, 0.35, 0.35, 0.25, 0.25, 0.10, 0.20, 0.15])
RESULTS = Path(__file__).resolve().parent / "results" / "attribution.json"


class Data:
    """Columnar journeys sorted by (journey, time); conversions are a subset of journeys."""

    def __init__(self, n_journeys: int, seed: int = 20260301) -> None:
        rng = np.random.default_rng(seed)
        lengths = 1 + rng.poisson(1.5, n_journeys)
        self.journey = np.repeat(np.arange(n_journeys), lengths)
        m = int(lengths.sum())
        self.channel = rng.choice(len(CHANNELS), m, p=POPULARITY / POPULARITY.sum())
        ends = np.datetime64("2026-01-01T00:00:00", "s") + rng.integers(0, 90 * 86_400, n_journeys).astype(
            "timedelta64[s]"
        )
        ages = rng.integers(0, 30 * 86_400, m).astype("timedelta64[s]")
        touched = ends[self.journey] - ages
        order = np.lexsort((touched, self.journey))
        self.touched_at = touched[order]
        self.is_lead = rng.random(m) < 0.1
        best = np.maximum.reduceat(LIFT[self.channel], np.flatnonzero(np.r_[True, np.diff(self.journey) != 0]))
        self.converted = rng.random(n_journeys) < np.clip(best * 0.9 + 0.02 * lengths + 0.01, 0, 1)
        self.converted_at = ends + np.timedelta64(3600, "s")
        self.revenue = rng.integers(500, 30_000, n_journeys) / 100.0
        self.starts = np.flatnonzero(np.r_[True, np.diff(self.journey) != 0])
        self.stops = np.r_[self.starts[1:], m]

    @property
    def n_touches(self) -> int:
        return int(self.journey.shape[0])

    def conversions(self) -> dict[str, np.ndarray]:
        """Touch arrays of converting journeys only, journeys renumbered 0..C-1."""
        keep = self.converted[self.journey]
        conv_ids = np.flatnonzero(self.converted)
        renumber = np.full(self.converted.shape[0], -1)
        renumber[conv_ids] = np.arange(conv_ids.shape[0])
        return {
            "journey": renumber[self.journey[keep]],
            "channel": self.channel[keep],
            "touched_at": self.touched_at[keep],
            "is_lead": self.is_lead[keep],
            "converted_at": self.converted_at[conv_ids],
            "revenue": self.revenue[conv_ids],
        }

    def journeys(self) -> list[Journey]:
        names = [CHANNELS[c] for c in self.channel.tolist()]
        return [
            Journey(tuple(names[s:e]), bool(c))
            for s, e, c in zip(self.starts.tolist(), self.stops.tolist(), self.converted.tolist(), strict=True)
        ]

    def paths(self, sep: str = " > ") -> list[str]:
        names = [CHANNELS[c] for c in self.channel.tolist()]
        return [sep.join(names[s:e]) for s, e in zip(self.starts.tolist(), self.stops.tolist(), strict=True)]

    def hours_to_conversion(self, sep: str = " > ") -> list[str]:
        hours = ((self.converted_at[self.journey] - self.touched_at) / np.timedelta64(1, "h")).tolist()
        return [sep.join(f"{h:.6f}" for h in hours[s:e]) for s, e in zip(self.starts, self.stops, strict=True)]


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return fn()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    data = Data(args.journeys)
    conv = data.conversions()
    n_conv = int(conv["converted_at"].shape[0])
    print(
        f"data: {args.journeys:,} journeys, {data.n_touches:,} touches, {n_conv:,} conversions "
        f"({conv['channel'].shape[0]:,} touches), {len(CHANNELS)} channels; best of {args.repeat}\n"
    )

    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    def row(name: str, seconds: float | None, peer: str | None = None, ratio: float | None = None) -> None:
        rows.append({"name": name, "seconds": seconds, "vs": peer, "ratio_peer_over_ours": ratio})

    # --- ours: batch heuristics -------------------------------------------------------------------------
    def ours_batch() -> Any:
        return attribute_batch(
            conv["journey"],
            conv["channel"],
            conv["touched_at"],
            conv["converted_at"],
            conv["revenue"],
            conv["is_lead"],
            n_channels=len(CHANNELS),
            direct_code=CHANNELS.index("direct"),
        )

    t_batch, batch = best_of(ours_batch, args.repeat)
    row("ours: attribute_batch, 8 heuristics + totals", t_batch)

    # conversion subset as paths (one row per conversion), shared by the peers
    conv_idx = np.flatnonzero(data.converted)
    paths = data.paths()
    hours = data.hours_to_conversion()
    conv_paths = [paths[i] for i in conv_idx]

    # --- (a) marketing-attribution-models -------------------------------------------------------------
    try:
        import mam
        import polars as pl

        frame = pl.DataFrame(
            {
                "journey_id": [str(i) for i in range(n_conv)],
                "path": conv_paths,
                "hours": [hours[i] for i in conv_idx],
                "converted": np.ones(n_conv, dtype=np.int64),
                "revenue": conv["revenue"],
            }
        )

        def mam_model() -> Any:
            return mam.MAM(
                frame,
                format_type="journey",
                channels_colname="path",
                journey_with_conv_colname="converted",
                user_id_colname="journey_id",
                time_till_conv_colname="hours",
                conversion_value_colname="revenue",
                path_separator=" > ",
            )

        t_prep, model = best_of(mam_model, args.repeat)

        def mam_heuristics() -> list[Any]:
            return [
                model.run_first_click().to_pandas(),
                model.run_last_click().to_pandas(),
                model.run_linear().to_pandas(),
                model.run_position_based().to_pandas(),
                model.run_time_decay(half_life_hours=168.0).to_pandas(),
            ]

        t_mam, mam_out = best_of(mam_heuristics, args.repeat)
        row("marketing-attribution-models: 5 heuristics", t_mam, "ours batch", t_mam / t_batch)
        row(
            "marketing-attribution-models: + its preprocessing",
            t_mam + t_prep,
            "ours batch",
            (t_mam + t_prep) / t_batch,
        )
        linear = dict(zip(mam_out[2]["channels"], mam_out[2]["attribution"], strict=True))
        diff = max(abs(linear.get(c, 0.0) - batch.revenue["linear"][i]) for i, c in enumerate(CHANNELS))
        notes.append(f"mam linear revenue totals vs ours: max abs diff {diff:.2e}")
    except ImportError as exc:
        notes.append(f"marketing-attribution-models NOT INSTALLED ({exc}); (a) skipped")

    # --- (b) + (c) channelattribution --------------------------------------------------------------------
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import ChannelAttribution as ca  # noqa: N813
        import pandas as pd

        ca_frame = pd.DataFrame({"path": conv_paths, "conv": np.ones(n_conv, dtype=np.int64), "value": conv["revenue"]})
        t_ca_h, ca_h = best_of(
            quiet(lambda: ca.heuristic_models(ca_frame, "path", "conv", var_value="value", flg_pro=False)), args.repeat
        )
        row("channelattribution: heuristic_models (3)", t_ca_h, "ours batch", t_ca_h / t_batch)
        ca_lin = dict(zip(ca_h["channel_name"], ca_h["linear_touch_value"], strict=True))
        diff = max(abs(ca_lin.get(c, 0.0) - batch.revenue["linear"][i]) for i, c in enumerate(CHANNELS))
        notes.append(f"channelattribution linear revenue totals vs ours: max abs diff {diff:.2e}")
    except ImportError as exc:
        ca = None
        notes.append(f"channelattribution NOT INSTALLED ({exc}); (b) and (c) skipped")

    # --- ours: markov / shapley fits ------------------------------------------------------------------
    journeys = data.journeys()
    t_markov, markov = best_of(lambda: fit_markov(journeys), args.repeat)
    row("ours: fit_markov (exact solve), 100k journeys", t_markov)
    t_shapley, shapley = best_of(lambda: fit_shapley(journeys), args.repeat)
    row("ours: fit_shapley (exact enumeration)", t_shapley)

    side_by_side: dict[str, dict[str, float]] = {c: {"ours": markov.weights.get(c, 0.0)} for c in CHANNELS}
    if ca is not None:
        import pandas as pd

        by_journey = pd.DataFrame(
            {"path": paths, "conv": data.converted.astype(np.int64), "null": (~data.converted).astype(np.int64)}
        )
        t_group, grouped = best_of(
            lambda: by_journey.groupby("path", as_index=False)[["conv", "null"]].sum(), args.repeat
        )
        t_ca_m, ca_m = best_of(
            quiet(lambda: ca.markov_model(grouped, "path", "conv", var_null="null", out_more=True, flg_pro=False)),
            args.repeat,
        )
        row("channelattribution: markov_model (default sim.)", t_ca_m, "ours fit_markov", t_ca_m / t_markov)
        row(
            "channelattribution: + pandas path aggregation",
            t_ca_m + t_group,
            "ours fit_markov",
            (t_ca_m + t_group) / t_markov,
        )
        notes.append(f"{len(grouped):,} distinct paths fed to channelattribution.markov_model")
        effects = ca_m["removal_effects"]
        total = float(effects["removal_effect"].sum())
        for name, value in zip(effects["channel_name"], effects["removal_effect"], strict=True):
            side_by_side[name]["channelattribution"] = float(value) / total
        _, ca_precise = best_of(
            quiet(
                lambda: ca.markov_model(
                    grouped,
                    "path",
                    "conv",
                    var_null="null",
                    out_more=True,
                    flg_pro=False,
                    nsim_start=1e6,
                    max_step=200,
                    conv_par=0.01,
                )
            ),
            1,
        )
        effects = ca_precise["removal_effects"]
        total = float(effects["removal_effect"].sum())
        for name, value in zip(effects["channel_name"], effects["removal_effect"], strict=True):
            side_by_side[name]["channelattribution_1e6_sims"] = float(value) / total
    try:
        import mam
        import polars as pl

        mam_frame = pl.DataFrame(
            {
                "journey_id": [str(i) for i in range(len(paths))],
                "path": paths,
                "hours": hours,
                "converted": data.converted,
            }
        )
        mam_all = mam.MAM(
            mam_frame,
            format_type="journey",
            channels_colname="path",
            journey_with_conv_colname="converted",
            user_id_colname="journey_id",
            time_till_conv_colname="hours",
            path_separator=" > ",
        )
        t_mam_m, mam_m = best_of(mam_all.run_markov, args.repeat)
        row("marketing-attribution-models: run_markov (exact)", t_mam_m, "ours fit_markov", t_mam_m / t_markov)
        effects = mam_m.metadata["removal_effect"]["removal_effect"]
        for name, value in (effects / effects.sum()).items():
            side_by_side[name]["marketing_attribution_models"] = float(value)
    except ImportError:
        pass

    # --- per-conversion engine (informative) ------------------------------------------------------------
    sample = 2_000
    names = [CHANNELS[c] for c in conv["channel"].tolist()]
    touch_lists: list[list[Touch]] = [[] for _ in range(sample)]
    for i, j in enumerate(conv["journey"].tolist()):
        if j < sample:
            when = conv["touched_at"][i].astype(datetime).replace(tzinfo=UTC)
            touch_lists[j].append(Touch(f"s{i}", names[i], when, bool(conv["is_lead"][i])))
    at = [conv["converted_at"][j].astype(datetime).replace(tzinfo=UTC) for j in range(sample)]

    def engine() -> None:
        for touches, when in zip(touch_lists, at, strict=True):
            attribute(touches, when, markov=markov, shapley=shapley)

    t_engine, _ = best_of(engine, args.repeat)
    row(f"ours: engine.attribute, 10 models, {sample} conversions", t_engine)
    notes.append(f"engine.attribute: {t_engine / sample * 1e6:.0f} us per conversion (all 10 models, Decimal credits)")

    # --- report ---------------------------------------------------------------------------------------------
    print("| name | seconds | vs | ratio (peer / ours) |")
    print("|---|---:|---|---:|")
    for r in rows:
        ratio = f"{r['ratio_peer_over_ours']:.2f}x" if r["ratio_peer_over_ours"] is not None else ""
        print(f"| {r['name']} | {r['seconds']:.4f} | {r['vs'] or ''} | {ratio} |")
    print("\nMarkov removal-effect weights (normalised):\n")
    columns = ["ours", "marketing_attribution_models", "channelattribution", "channelattribution_1e6_sims"]
    print("| channel | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in CHANNELS:
        cells = [f"{side_by_side[name][c]:.4f}" if c in side_by_side[name] else "" for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for note in notes:
        print(f"- {note}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generated_at": datetime.now(UTC).isoformat(),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "journeys": args.journeys,
                "touches": data.n_touches,
                "conversions": n_conv,
                "channels": len(CHANNELS),
                "repeat": args.repeat,
                "rows": rows,
                "markov_weights": side_by_side,
                "notes": notes,
            },
            indent=2,
        )
    )
    print(f"\nwritten {RESULTS}")


if __name__ == "__main__":
    main()
