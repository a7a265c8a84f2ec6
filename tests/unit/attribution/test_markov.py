"""First-order Markov removal effects on hand-solvable journey sets."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from multibuzz.domain.attribution import Journey, MarkovModel, fit_markov

FITTED_AT = datetime(2026, 2, 1, tzinfo=UTC)


def J(path: str, converted: bool) -> Journey:
    return Journey(tuple(path.split(">")) if path else (), converted)


# a>b converts, a converts, b is lost, c is lost.
#   start: a 2/4, b 1/4, c 1/4;  a: b 1/2, conv 1/2;  b: conv 1/2, null 1/2;  c: null 1.
#   h_b = 1/2, h_a = 1/2 + 1/2 * h_b = 3/4, h_c = 0  ->  P = 2/4 * 3/4 + 1/4 * 1/2 = 1/2
#   remove a: P = 1/4 * 1/2 = 1/8 -> RE 3/4;  remove b: h_a = 1/2, P = 1/4 -> RE 1/2;  RE(c) = 0
#   weights = 0.75 / 1.25, 0.5 / 1.25 = 0.6, 0.4
PAPER = [J("a>b", True), J("a", True), J("b", False), J("c", False)]


def test_two_channel_case_solved_on_paper() -> None:
    model = fit_markov(PAPER, fitted_at=FITTED_AT)
    assert model.weights == pytest.approx({"a": 0.6, "b": 0.4, "c": 0.0}, abs=1e-12)
    assert model.removal_effects == pytest.approx({"a": 0.75, "b": 0.5, "c": 0.0}, abs=1e-12)
    assert model.conversion_probability == pytest.approx(0.5)
    assert (model.journeys, model.conversions, model.fitted_at) == (4, 2, FITTED_AT)


def test_loop_between_channels() -> None:
    # a>b>a converts, b>a is lost. Counts: start: a 1, b 1;  a: b 1, conv 1, null 1;  b: a 2.
    #   h_a = 1/3 + 1/3 h_b, h_b = h_a -> h_a = h_b = 1/2, P = 1/2.
    #   remove a: P = 0 -> RE 1;  remove b: h_a = 1/3, h_b = 0, P = 1/6 -> RE 2/3.  weights 3/5, 2/5.
    model = fit_markov([J("a>b>a", True), J("b>a", False)])
    assert model.removal_effects == pytest.approx({"a": 1.0, "b": 2 / 3})
    assert model.weights == pytest.approx({"a": 0.6, "b": 0.4})


def test_channel_never_in_a_converting_path_gets_zero() -> None:
    model = fit_markov([J("a>b", True), J("c>d", False), J("b", True)])
    assert model.weights["c"] == model.weights["d"] == 0.0
    assert sum(model.weights.values()) == pytest.approx(1.0)


def test_single_channel_takes_everything() -> None:
    assert fit_markov([J("a", True), J("a>a", False)]).weights == {"a": 1.0}


def test_repeated_touches_do_not_change_removal_effects() -> None:
    plain = fit_markov([J("a>b", True), J("b", False), J("a>c", True), J("c", False)])
    repeated = fit_markov([J("a>a>b>b", True), J("b", False), J("a>c>c>c", True), J("c>c", False)])
    assert repeated.weights == pytest.approx(plain.weights, abs=1e-12)


def test_symmetric_channels_get_equal_weight() -> None:
    model = fit_markov([J("a>b", True), J("b>a", True), J("a", False), J("b", False)])
    assert model.weights["a"] == pytest.approx(model.weights["b"])


def test_empty_journeys_are_ignored() -> None:
    model = fit_markov([J("", True), J("a", True), J("b", False)])
    assert (model.journeys, model.conversions) == (2, 1)
    assert model.weights == {"a": 1.0, "b": 0.0}


def test_no_conversions_gives_no_weights() -> None:
    model = fit_markov([J("a", False), J("b>a", False)])
    assert (model.weights, model.conversions) == ({}, 0)


def test_round_trip_through_json() -> None:
    model = fit_markov(PAPER, fitted_at=FITTED_AT)
    restored = MarkovModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert restored == model


def test_from_dict_rejects_other_kinds() -> None:
    with pytest.raises(ValueError, match="markov"):
        MarkovModel.from_dict({"kind": "shapley", "schema": 1})


def test_matches_monte_carlo_simulation_of_the_same_chain() -> None:
    """Independent check of the linear-algebra solution: simulate the fitted chain with removals."""
    rng = np.random.default_rng(7)
    channels = ["a", "b", "c", "d"]
    journeys = []
    for _ in range(400):
        path = tuple(rng.choice(channels, size=int(rng.integers(1, 5))))
        converted = bool(rng.random() < 0.2 + 0.3 * ("b" in path) + 0.2 * (path[-1] == "c"))
        journeys.append(Journey(path, converted))
    model = fit_markov(journeys)

    states = ["start", *channels, "conv", "null"]
    counts = np.zeros((len(states), len(states)))
    for j in journeys:
        seq = ["start", *j.channels, "conv" if j.converted else "null"]
        for s, t in itertools.pairwise(seq):
            counts[states.index(s), states.index(t)] += 1
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

    def simulate(removed: str | None, n: int = 60_000) -> float:
        state = np.zeros(n, dtype=int)
        done = np.zeros(n, dtype=bool)
        conv = np.zeros(n, dtype=bool)
        while not done.all():
            live = np.flatnonzero(~done)
            cum = probs[state[live]].cumsum(axis=1)
            nxt = (rng.random(len(live))[:, None] > cum).sum(axis=1)
            state[live] = nxt
            is_conv = nxt == states.index("conv")
            ends = is_conv | (nxt == states.index("null"))
            if removed is not None:
                ends |= nxt == states.index(removed)
            conv[live[is_conv]] = True
            done[live[ends]] = True
        return float(conv.mean())

    base = simulate(None)
    effects = {c: 1 - simulate(c) / base for c in channels}
    assert model.removal_effects == pytest.approx(effects, abs=0.02)
