"""The figures of wording experiments (bot/reports/experiments.py): the
intervals and sample sizes against published worked examples and the
formula worked by hand, then the figures of seeded experiments."""
from __future__ import annotations

import math
from typing import List

import pytest

from bot.reports.experiments import (
    VERDICT_LEADER_ANSWERS_MORE,
    VERDICT_NO_DIFFERENCE_OF_THAT_SIZE,
    VERDICT_NO_DIFFERENCE_YET,
    VERDICT_ONE_VARIANT,
    EstimatedShare,
    VariantOutcome,
    appointments_needed,
    difference_interval,
    experiment_figures,
    proportion_interval,
    still_needed,
)

Z_975, Z_80 = 1.959963984540054, 0.8416212335729143  # the standard normal's 97.5 % and 80 % points


# --- the statistics ---------------------------------------------------------------
@pytest.mark.parametrize("successes, total, low, high", [
    # Newcombe (1998), Statist. Med. 17:857, Table I, method 3 (Wilson score).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_the_published_examples(successes, total, low, high):
    assert proportion_interval(successes, total) == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_is_exactly_0_or_1_at_the_ends():
    assert proportion_interval(0, 7)[0] == 0.0
    assert proportion_interval(7, 7)[1] == 1.0


def test_a_higher_confidence_gives_a_wider_interval():
    low95, high95 = proportion_interval(81, 263)
    low99, high99 = proportion_interval(81, 263, confidence=0.99)
    assert low99 < low95 and high95 < high99


def test_a_proportion_of_nothing_has_no_interval_and_impossible_ones_are_refused():
    assert proportion_interval(0, 0) is None
    assert difference_interval(1, 2, 0, 0) is None
    for successes, total in [(3, 2), (-1, 5), (0, -1)]:
        with pytest.raises(ValueError):
            proportion_interval(successes, total)
    with pytest.raises(ValueError):
        proportion_interval(1, 2, confidence=1.0)


@pytest.mark.parametrize("s1, n1, s2, n2, low, high", [
    # Newcombe (1998), Statist. Med. 17:873, Table II, method 10 (hybrid score).
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (0, 10, 0, 10, -0.2775, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0),
    (10, 10, 0, 10, 0.6075, 1.0),
])
def test_newcombe_interval_matches_the_published_examples(s1, n1, s2, n2, low, high):
    assert difference_interval(s1, n1, s2, n2) == pytest.approx((low, high), abs=5e-5)


def by_hand(p1: float, p2: float) -> float:
    """n = (z_{a/2} sqrt(2 p̄ q̄) + z_b sqrt(p1 q1 + p2 q2))^2 / d^2, alpha 0.05 and power 0.8."""
    mean = (p1 + p2) / 2
    return (Z_975 * math.sqrt(2 * mean * (1 - mean)) + Z_80 * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 \
        / (p2 - p1) ** 2


@pytest.mark.parametrize("p_base, difference, p2, expected", [
    (0.10, 0.05, 0.15, 686),   # by hand: 685.6
    (0.50, 0.10, 0.60, 388),   # 387.3
    (0.98, 0.05, 0.93, 269),   # 0.98 + 0.05 is no rate: compared with 0.93 (268.7)
])
def test_sample_size_is_the_two_proportion_formula_rounded_up(p_base, difference, p2, expected):
    assert math.ceil(by_hand(p_base, p2)) == expected
    assert appointments_needed(p_base, difference) == expected


def test_a_smaller_difference_or_more_power_needs_more_appointments():
    assert appointments_needed(0.6, 0.03) > appointments_needed(0.6, 0.05)
    assert appointments_needed(0.6, 0.05, power=0.9) > appointments_needed(0.6, 0.05)


def test_impossible_sample_sizes_are_refused():
    for args in [(1.2, 0.05), (0.5, 0.0), (0.5, 0.6), (0.5, 0.05, 0.0)]:
        with pytest.raises(ValueError):
            appointments_needed(*args)


def test_still_needed_is_what_the_smallest_variant_lacks():
    assert still_needed([500, 420, 610], 686) == 266
    assert still_needed([700, 690], 686) == 0
    assert still_needed([], 686) == 686


# --- the figures of an experiment ----------------------------------------------------
def outcomes(variant: str, count: int, answered: int, cancelled: int = 0, no_shows: int = 0,
             attendance_known: int = 0, office: str = "oac-centre", experiment: str = "cost") -> List[VariantOutcome]:
    return [VariantOutcome(office, experiment, variant, answered=n < answered, cancelled=n < cancelled,
                           no_show=(n < no_shows) if n < attendance_known else None)
            for n in range(count)]


def test_each_variants_rates_and_the_one_answered_more():
    rows = outcomes("with-cost", 100, answered=60, cancelled=12, no_shows=5, attendance_known=80) \
        + outcomes("plain", 100, answered=45, cancelled=10, no_shows=9, attendance_known=85)
    [figures] = experiment_figures(rows)
    plain, with_cost = figures.variants
    assert (with_cost.variant, with_cost.appointments, with_cost.answered, with_cost.cancelled,
            with_cost.no_shows, with_cost.attendance_known) == ("with-cost", 100, 60, 12, 5, 80)
    assert with_cost.answer_rate == EstimatedShare(60, 100, 0.6, *proportion_interval(60, 100))
    assert with_cost.cancellation_rate == EstimatedShare(12, 100, 0.12, *proportion_interval(12, 100))
    # The no-show rate counts only appointments whose attendance is known.
    assert plain.no_show_rate == EstimatedShare(9, 85, 9 / 85, *proportion_interval(9, 85))
    assert (figures.leader, figures.runner_up) == ("with-cost", "plain")
    difference = figures.answer_rate_difference
    assert difference.value == pytest.approx(0.15)
    assert (difference.low, difference.high) == pytest.approx((0.0117, 0.2804), abs=5e-5)
    assert figures.verdict == VERDICT_LEADER_ANSWERS_MORE
    # Overall answer rate 105/200 = 0.525, to be told from 0.575.
    assert figures.appointments_needed == appointments_needed(0.525, 0.05) == 1553  # by hand: 1552.9
    assert figures.still_needed == 1453


def test_too_few_appointments_tell_no_difference_yet():
    [figures] = experiment_figures(outcomes("A", 40, answered=22) + outcomes("B", 30, answered=15))
    assert figures.leader == "A"
    assert figures.answer_rate_difference.low < 0 < figures.answer_rate_difference.high
    assert figures.verdict == VERDICT_NO_DIFFERENCE_YET
    assert figures.still_needed == figures.appointments_needed - 30


def test_many_appointments_with_equal_rates_rule_out_a_difference_of_the_minimum_effect():
    [figures] = experiment_figures(outcomes("A", 3000, answered=1800) + outcomes("B", 3000, answered=1800))
    # Equal rates: the first by name leads.
    assert (figures.leader, figures.runner_up) == ("A", "B")
    assert figures.answer_rate_difference.value == 0
    assert figures.verdict == VERDICT_NO_DIFFERENCE_OF_THAT_SIZE
    assert figures.still_needed == 0


def test_with_three_variants_the_best_is_compared_with_the_second_best():
    rows = outcomes("A", 200, answered=100) + outcomes("B", 200, answered=150) + outcomes("C", 200, answered=140)
    [figures] = experiment_figures(rows, minimum_effect=0.1)
    assert (figures.leader, figures.runner_up) == ("B", "C")
    assert figures.answer_rate_difference.value == pytest.approx(0.05)
    assert figures.verdict == VERDICT_NO_DIFFERENCE_YET
    assert figures.appointments_needed == appointments_needed(390 / 600, 0.1)


def test_an_experiment_with_one_variant_so_far_has_no_comparison():
    [figures] = experiment_figures(outcomes("A", 10, answered=6))
    assert (figures.leader, figures.answer_rate_difference, figures.verdict) == (None, None, VERDICT_ONE_VARIANT)
    assert figures.still_needed == appointments_needed(0.6, 0.05) - 10


def test_each_office_and_experiment_is_compared_on_its_own():
    rows = outcomes("A", 10, answered=1, office="oac-nord") + outcomes("B", 10, answered=9, office="oac-centre") \
        + outcomes("A", 10, answered=5, office="oac-centre") + outcomes("A", 4, answered=4, experiment="emoji")
    figures = experiment_figures(rows)
    assert [(f.office_id, f.experiment, [v.appointments for v in f.variants]) for f in figures] == [
        ("oac-centre", "cost", [10, 10]), ("oac-centre", "emoji", [4]), ("oac-nord", "cost", [10])]
    assert experiment_figures([]) == []


def test_a_minimum_effect_outside_0_to_half_is_refused():
    with pytest.raises(ValueError):
        experiment_figures([], minimum_effect=0.0)
