"""Cross-check against independent, maintained implementations on >= 10,000 seeded journeys.

* ``marketing-attribution-models`` (import ``mam``, polars): first/last click, linear, position based and time
  decay (half-life 168 h) on conversions and on revenue; its exact (matrix-inverse) Markov removal effects.
* ``channelattribution`` (import ``ChannelAttribution``, C++): first/last/linear on conversions and revenue; its
  simulated Markov removal effects (within simulation error).

The heuristics are compared through :func:`attribute_batch` (which ``test_batch`` ties to the per-conversion
engine) and, on a 1,000-conversion subset, through :func:`attribute` directly.
"""

from __future__ import annotations

import contextlib
import io
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from multibuzz.domain.attribution import BatchResult, Journey, attribute, attribute_batch, fit_markov

from ._factories import CHANNELS, RandomJourneys, random_journeys

mam = pytest.importorskip("mam", reason="pip install marketing-attribution-models")
pl = pytest.importorskip("polars")
pd = pytest.importorskip("pandas")

Frame = Any  # pandas.DataFrame; pandas is imported lazily so the module skips cleanly without it
N_JOURNEYS = 12_000
HALF_LIFE_DAYS = 7.0
# our model name -> mam runner
MAM_RUNNERS = {
    "first_touch": "run_first_click",
    "last_touch": "run_last_click",
    "linear": "run_linear",
    "position_based": "run_position_based",
    "time_decay": "run_time_decay",
}


def _channel_attribution() -> Any:
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner on import
        return pytest.importorskip("ChannelAttribution", reason="pip install channelattribution matplotlib")


@pytest.fixture(scope="module")
def data() -> RandomJourneys:
    return random_journeys(N_JOURNEYS, seed=424242)


@pytest.fixture(scope="module")
def paths(data: RandomJourneys) -> Frame:
    """One row per conversion: ``a > b > c`` path, hours to conversion per touch, revenue."""
    names = np.array(CHANNELS)[data.channel]
    hours = ((data.converted_at[data.journey] - data.touched_at) / np.timedelta64(1, "h")).astype(int)
    starts = np.flatnonzero(np.r_[True, data.journey[1:] != data.journey[:-1]])
    ends = np.r_[starts[1:], data.journey.shape[0]]
    return pd.DataFrame(
        {
            "journey_id": [str(j) for j in range(data.size)],
            "path": [" > ".join(names[s:e]) for s, e in zip(starts, ends, strict=True)],
            "hours": [" > ".join(map(str, hours[s:e])) for s, e in zip(starts, ends, strict=True)],
            "converted": 1,
            "revenue": data.revenue,
        }
    )


@pytest.fixture(scope="module")
def ours(data: RandomJourneys) -> BatchResult:
    return attribute_batch(
        data.journey,
        data.channel,
        data.touched_at,
        data.converted_at,
        data.revenue,
        data.is_lead,
        n_channels=len(CHANNELS),
        direct_code=CHANNELS.index("direct"),
        half_life_days=HALF_LIFE_DAYS,
    )


def _as_array(frame: Frame, name_col: str, value_col: str) -> np.ndarray:
    values = dict(zip(frame[name_col], frame[value_col], strict=True))
    return np.array([float(values.get(c, 0.0)) for c in CHANNELS])


def _mam(paths: Frame, *, with_value: bool) -> Any:
    return mam.MAM(
        pl.from_pandas(paths),
        format_type="journey",
        channels_colname="path",
        journey_with_conv_colname="converted",
        user_id_colname="journey_id",
        time_till_conv_colname="hours",
        conversion_value_colname="revenue" if with_value else None,
        path_separator=" > ",
    )


@pytest.mark.parametrize("with_value", [False, True], ids=["conversions", "revenue"])
def test_heuristics_match_marketing_attribution_models(paths: Frame, ours: BatchResult, with_value: bool) -> None:
    model = _mam(paths, with_value=with_value)
    for name, runner in MAM_RUNNERS.items():
        kwargs = {"half_life_hours": HALF_LIFE_DAYS * 24} if name == "time_decay" else {}
        theirs = _as_array(getattr(model, runner)(**kwargs).to_pandas(), "channels", "attribution")
        mine = (ours.revenue if with_value else ours.credits)[name]
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-6, err_msg=name)


def test_heuristics_match_channelattribution(paths: Frame, ours: BatchResult) -> None:
    ca = _channel_attribution()
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = ca.heuristic_models(paths, "path", "converted", var_value="revenue", flg_pro=False)
    for name, column in [("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")]:
        conversions = _as_array(theirs, "channel_name", f"{column}_conversions")
        value = _as_array(theirs, "channel_name", f"{column}_value")
        np.testing.assert_allclose(ours.credits[name], conversions, rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(ours.revenue[name], value, rtol=1e-9, err_msg=name)


def test_engine_matches_marketing_attribution_models_on_a_subset(data: RandomJourneys, paths: Frame) -> None:
    subset = 1_000
    totals = {name: dict.fromkeys(CHANNELS, Decimal(0)) for name in MAM_RUNNERS}
    for j in range(subset):
        result = attribute(data.touches(j), data.conversion_at(j), models=list(MAM_RUNNERS))
        for name, model_result in result.items():
            for credit in model_result.credits:
                totals[name][credit.channel] += credit.credit
    model = _mam(paths.iloc[:subset], with_value=False)
    for name, runner in MAM_RUNNERS.items():
        kwargs = {"half_life_hours": HALF_LIFE_DAYS * 24} if name == "time_decay" else {}
        theirs = _as_array(getattr(model, runner)(**kwargs).to_pandas(), "channels", "attribution")
        mine = np.array([float(totals[name][c]) for c in CHANNELS])
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=subset * 1e-8, err_msg=name)


@pytest.fixture(scope="module")
def markov_journeys() -> tuple[list[Journey], Frame]:
    """Converting and non-converting journeys; conversion odds depend on channels so weights differ."""
    rng = np.random.default_rng(99)
    lengths = 1 + rng.poisson(1.5, N_JOURNEYS)
    boost = np.linspace(0.02, 0.25, len(CHANNELS))
    journeys = []
    for n in lengths:
        codes = rng.integers(0, len(CHANNELS), n)
        converted = bool(rng.random() < 0.05 + boost[codes].max())
        journeys.append(Journey(tuple(CHANNELS[c] for c in codes), converted))
    frame = pd.DataFrame(
        {
            "path": [" > ".join(j.channels) for j in journeys],
            "conv": [int(j.converted) for j in journeys],
            "null": [int(not j.converted) for j in journeys],
            "has_conv": [j.converted for j in journeys],
            "journey_id": [str(i) for i in range(len(journeys))],
            "hours": [" > ".join("0" for _ in j.channels) for j in journeys],
        }
    )
    return journeys, frame


def test_markov_matches_marketing_attribution_models(markov_journeys: tuple[list[Journey], Frame]) -> None:
    journeys, frame = markov_journeys
    ours = fit_markov(journeys)
    model = mam.MAM(
        pl.from_pandas(frame[["journey_id", "path", "hours", "has_conv"]]),
        format_type="journey",
        channels_colname="path",
        journey_with_conv_colname="has_conv",
        user_id_colname="journey_id",
        time_till_conv_colname="hours",
        path_separator=" > ",
    )
    result = model.run_markov()
    effects = result.metadata["removal_effect"]["removal_effect"].to_dict()
    assert ours.removal_effects == pytest.approx(effects, abs=1e-9)


def test_markov_matches_channelattribution_simulation(markov_journeys: tuple[list[Journey], Frame]) -> None:
    ca = _channel_attribution()
    journeys, frame = markov_journeys
    ours = fit_markov(journeys)
    grouped = frame.groupby("path", as_index=False)[["conv", "null"]].sum()
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = ca.markov_model(
            grouped,
            "path",
            "conv",
            var_null="null",
            out_more=True,
            nsim_start=1e6,
            max_step=200,  # its default (longest observed path) truncates simulated loops and biases effects down
            conv_par=0.01,
            verbose=False,
            flg_pro=False,
        )
    effects = theirs["removal_effects"]
    simulated = dict(zip(effects["channel_name"], effects["removal_effect"], strict=True))
    assert ours.removal_effects == pytest.approx(simulated, abs=0.015)
