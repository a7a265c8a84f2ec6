"""Hand-computed credits of the eight rule-based models (ARCHITECTURE.md section 3).

Touches are 7 days apart with the last one at the conversion, so time-decay weights (half-life 7 days) are powers
of two: ages 28, 21, 14, 7, 0 days -> 1/16, 1/8, 1/4, 1/2, 1 -> 1/31, 2/31, 4/31, 8/31, 16/31.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from multibuzz.domain.attribution import HEURISTIC_MODELS, Touch, attribute

from ._factories import CONVERSION_AT, credits_of, dec, journey

FIVE = ("paid_search", "email", "organic_search", "display", "referral")

# Expected credits per model for 1, 2, 3 and 5 distinct-channel touches without a lead flag.
EXPECTED: dict[str, dict[int, list[str]]] = {
    "first_touch": {1: ["1"], 2: ["1", "0"], 3: ["1", "0", "0"], 5: ["1", "0", "0", "0", "0"]},
    "last_touch": {1: ["1"], 2: ["0", "1"], 3: ["0", "0", "1"], 5: ["0", "0", "0", "0", "1"]},
    "last_non_direct": {1: ["1"], 2: ["0", "1"], 3: ["0", "0", "1"], 5: ["0", "0", "0", "0", "1"]},
    "linear": {
        1: ["1"],
        2: ["0.5", "0.5"],
        # 1/3 = 0.333333333...: one spare unit of 1e-8, tie broken towards the earlier touch
        3: ["0.33333334", "0.33333333", "0.33333333"],
        5: ["0.2"] * 5,
    },
    "time_decay": {
        1: ["1"],
        # 1/3, 2/3: the spare unit goes to the larger remainder (0.666.. > 0.333..)
        2: ["0.33333333", "0.66666667"],
        # 1/7, 2/7, 4/7: remainders .2857, .5714, .1428 -> 2/7 rounds up
        3: ["0.14285714", "0.28571429", "0.57142857"],
        # 1/31 .. 16/31: floors sum to 0.99999997; remainders .45, .90, .81, .61, .23 -> 2nd, 3rd, 4th round up
        5: ["0.03225806", "0.06451613", "0.12903226", "0.25806452", "0.51612903"],
    },
    "position_based": {
        1: ["1"],
        2: ["0.5", "0.5"],
        3: ["0.4", "0.2", "0.4"],
        # 0.2/3 = 0.0666..67 each: two spare units go to the two earliest middle touches (tie)
        5: ["0.4", "0.06666667", "0.06666667", "0.06666666", "0.4"],
    },
    "participation": {1: ["1"], 2: ["1", "1"], 3: ["1", "1", "1"], 5: ["1"] * 5},
}
# Without a distinct lead touch w_shaped is u-shaped.
EXPECTED["w_shaped"] = EXPECTED["position_based"]


@pytest.mark.parametrize("model", HEURISTIC_MODELS)
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_hand_computed_credits(model: str, n: int) -> None:
    result = attribute(journey(*FIVE[:n]), CONVERSION_AT, models=[model])[model]
    assert credits_of(result) == dec(*EXPECTED[model][n])
    assert [c.session_id for c in result.credits] == [f"s{i}" for i in range(n)]
    assert result.fallback is None


def test_credits_carry_eight_places() -> None:
    result = attribute(journey("email", "direct"), CONVERSION_AT, models=["linear"])["linear"]
    assert [c.credit.as_tuple().exponent for c in result.credits] == [-8, -8]


class TestTimeDecay:
    def test_ages_0_7_14_days_give_weights_1_half_quarter(self) -> None:
        result = attribute(journey("a", "b", "c"), CONVERSION_AT, models=["time_decay"])["time_decay"]
        # 0.25 : 0.5 : 1 normalised = 1/7 : 2/7 : 4/7
        assert credits_of(result) == dec("0.14285714", "0.28571429", "0.57142857")

    def test_custom_half_life(self) -> None:
        touches = journey("a", "b", step_days=1.0)
        result = attribute(touches, CONVERSION_AT, models=["time_decay"], half_life_days=1.0)["time_decay"]
        assert credits_of(result) == dec("0.33333333", "0.66666667")

    def test_same_age_touches_share_equally(self) -> None:
        touches = [Touch("x", "email", CONVERSION_AT), Touch("y", "display", CONVERSION_AT)]
        result = attribute(touches, CONVERSION_AT, models=["time_decay"])["time_decay"]
        assert credits_of(result) == dec("0.5", "0.5")

    def test_very_old_journey_does_not_underflow(self) -> None:
        touches = journey("a", "b", step_days=1.0)
        late = CONVERSION_AT + timedelta(days=20_000)
        result = attribute(touches, late, models=["time_decay"], half_life_days=1.0)["time_decay"]
        assert credits_of(result) == dec("0.33333333", "0.66666667")

    def test_touch_after_conversion_counts_as_age_zero(self) -> None:
        touches = [Touch("a", "email", CONVERSION_AT + timedelta(hours=1)), Touch("b", "display", CONVERSION_AT)]
        result = attribute(touches, CONVERSION_AT, models=["time_decay"])["time_decay"]
        assert credits_of(result) == dec("0.5", "0.5")

    @pytest.mark.parametrize("half_life", [0.0, -1.0])
    def test_half_life_must_be_positive(self, half_life: float) -> None:
        with pytest.raises(ValueError, match="half_life"):
            attribute(journey("a"), CONVERSION_AT, half_life_days=half_life)


class TestLastNonDirect:
    def test_skips_trailing_direct(self) -> None:
        result = attribute(journey("paid_search", "email", "direct", "direct"), CONVERSION_AT)["last_non_direct"]
        assert credits_of(result) == dec("0", "1", "0", "0")

    def test_direct_only_falls_back_to_last_touch(self) -> None:
        result = attribute(journey("direct", "direct", "direct"), CONVERSION_AT)["last_non_direct"]
        assert credits_of(result) == dec("0", "0", "1")

    def test_single_direct_touch(self) -> None:
        result = attribute(journey("direct"), CONVERSION_AT)["last_non_direct"]
        assert credits_of(result) == dec("1")


class TestWShaped:
    def test_lead_in_middle_of_five(self) -> None:
        result = attribute(journey(*FIVE, lead=2), CONVERSION_AT)["w_shaped"]
        assert credits_of(result) == dec("0.3", "0.05", "0.3", "0.05", "0.3")

    def test_lead_second_of_four(self) -> None:
        result = attribute(journey(*FIVE[:4], lead=1), CONVERSION_AT)["w_shaped"]
        assert credits_of(result) == dec("0.3", "0.3", "0.1", "0.3")

    def test_three_touches_lead_in_middle_is_one_third_each(self) -> None:
        result = attribute(journey("a", "b", "c", lead=1), CONVERSION_AT)["w_shaped"]
        assert credits_of(result) == dec("0.33333334", "0.33333333", "0.33333333")

    @pytest.mark.parametrize("lead", [0, 4])
    def test_lead_on_first_or_last_touch_degrades_to_u_shaped(self, lead: int) -> None:
        result = attribute(journey(*FIVE, lead=lead), CONVERSION_AT)["w_shaped"]
        assert credits_of(result) == dec("0.4", "0.06666667", "0.06666667", "0.06666666", "0.4")

    def test_two_touches_with_lead_is_fifty_fifty(self) -> None:
        result = attribute(journey("a", "b", lead=1), CONVERSION_AT)["w_shaped"]
        assert credits_of(result) == dec("0.5", "0.5")

    def test_earliest_lead_flag_wins(self) -> None:
        touches = journey(*FIVE, lead=1)
        touches[3] = Touch(touches[3].session_id, touches[3].channel, touches[3].occurred_at, is_lead=True)
        result = attribute(touches, CONVERSION_AT)["w_shaped"]
        assert credits_of(result) == dec("0.3", "0.3", "0.05", "0.05", "0.3")


class TestTiesAndRepeats:
    def test_same_timestamp_is_ordered_by_session_id(self) -> None:
        touches = [Touch("b-session", "email", CONVERSION_AT), Touch("a-session", "display", CONVERSION_AT)]
        result = attribute(touches, CONVERSION_AT)
        assert [c.session_id for c in result["first_touch"].credits] == ["a-session", "b-session"]
        assert credits_of(result["first_touch"]) == dec("1", "0")
        assert credits_of(result["last_touch"]) == dec("0", "1")

    def test_repeated_channel_gets_credit_per_touch(self) -> None:
        result = attribute(journey("email", "display", "email"), CONVERSION_AT)
        assert credits_of(result["linear"]) == dec("0.33333334", "0.33333333", "0.33333333")
        assert credits_of(result["participation"]) == dec("1", "1", "1")
        assert [c.channel for c in result["linear"].credits] == ["email", "display", "email"]

    def test_position_based_with_one_channel_repeated(self) -> None:
        result = attribute(journey("email", "email", "email", "email"), CONVERSION_AT)["position_based"]
        assert credits_of(result) == dec("0.4", "0.1", "0.1", "0.4")
        assert sum(credits_of(result)) == Decimal(1)
