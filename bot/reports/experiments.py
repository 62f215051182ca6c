"""Wording experiments, compared: per office and experiment, each reminder
variant's answer, cancellation and no-show rates with 95 % intervals, whether
one variant is answered more, and how many appointments per variant are still
needed before a difference of a given size could be seen. Pure computation.

The z values come from statistics.NormalDist (the same values as scipy's to
the last digit or two, without making scipy, which only Rasa brings, a
dependency of the reports).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

Interval = Tuple[float, float]

# Verdicts on the answer rates of an experiment (ExperimentFigures.verdict).
VERDICT_ONE_VARIANT = "one_variant"                    # fewer than two variants have appointments
VERDICT_LEADER_ANSWERS_MORE = "leader_answers_more"    # the difference's interval is above 0
VERDICT_NO_DIFFERENCE_OF_THAT_SIZE = "no_difference_of_minimum_effect"  # interval within ±minimum_effect
VERDICT_NO_DIFFERENCE_YET = "no_difference_yet"        # neither: more appointments needed


def _z(two_sided_confidence: float) -> float:
    if not 0 < two_sided_confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {two_sided_confidence}")
    return NormalDist().inv_cdf(0.5 + two_sided_confidence / 2)


def proportion_interval(successes: int, total: int, confidence: float = 0.95) -> Optional[Interval]:
    """Wilson's score interval for successes / total, without continuity
    correction (Newcombe 1998, Statist. Med. 17:857, method 3). None when
    total is 0: nothing was observed, as share() gives no value."""
    if total < 0 or not 0 <= successes <= total:
        raise ValueError(f"not a proportion: {successes} of {total}")
    if total == 0:
        return None
    z = _z(confidence)
    p, z2_n = successes / total, z * z / total
    centre = (p + z2_n / 2) / (1 + z2_n)
    half = z * math.sqrt(p * (1 - p) / total + z2_n / (4 * total)) / (1 + z2_n)
    # At 0 and at total the bound is exactly 0 or 1: rounding must not nudge it.
    return (0.0 if successes == 0 else centre - half), (1.0 if successes == total else centre + half)


def difference_interval(s1: int, n1: int, s2: int, n2: int, confidence: float = 0.95) -> Optional[Interval]:
    """Interval for s1/n1 - s2/n2: Newcombe's hybrid score interval, built
    from the two Wilson intervals (Newcombe 1998, Statist. Med. 17:873,
    method 10). None when either group is empty."""
    first, second = proportion_interval(s1, n1, confidence), proportion_interval(s2, n2, confidence)
    if first is None or second is None:
        return None
    (l1, u1), (l2, u2) = first, second
    p1, p2 = s1 / n1, s2 / n2
    return (p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def appointments_needed(p_base: float, difference: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Appointments per variant for a two-sided two-proportion z-test at
    `alpha` to detect, with probability `power`, a rate `difference` away
    from `p_base` (p_base + difference, or p_base - difference when that
    would pass 1):

        n = (z_{1-alpha/2} * sqrt(2 p̄ q̄) + z_{power} * sqrt(p1 q1 + p2 q2))^2 / difference^2

    with p̄ the mean of p1 and p2, q = 1 - p (Fleiss, Levin & Paik,
    Statistical Methods for Rates and Proportions, 3rd ed. 2003, chapter 4,
    without continuity correction), rounded up."""
    p2 = p_base + difference if p_base + difference <= 1 else p_base - difference
    if not (0 <= p_base <= 1 and 0 < difference < 1 and p2 >= 0 and 0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"no sample size for p_base={p_base}, difference={difference}, alpha={alpha}, power={power}")
    mean = (p_base + p2) / 2
    root = (_z(1 - alpha) * math.sqrt(2 * mean * (1 - mean))
            + NormalDist().inv_cdf(power) * math.sqrt(p_base * (1 - p_base) + p2 * (1 - p2)))
    # Rounded first so that a float error on an exact integer does not add one.
    return math.ceil(round(root ** 2 / difference ** 2, 6))


def still_needed(n_per_variant_now: Sequence[int], needed: int) -> int:
    """Appointments still needed in the variant that has the fewest (every
    variant must reach `needed`); 0 once they all have."""
    return max(0, needed - min(n_per_variant_now, default=0))


@dataclass(frozen=True)
class VariantOutcome:
    """One appointment of a wording experiment: the variant its reminder was
    sent with and what followed (only sent reminders: the answer rate is over
    sent, as in figure_types). no_show: None while attendance is unknown
    (not yet recorded, or cancelled)."""
    office_id: str
    experiment: str
    variant: str
    answered: bool
    cancelled: bool
    no_show: Optional[bool]


@dataclass(frozen=True)
class EstimatedShare:
    """A share (value = part / whole) with its 95 % Wilson interval low..high;
    value, low and high are None when whole is 0."""
    part: int
    whole: int
    value: Optional[float]
    low: Optional[float]
    high: Optional[float]


def estimated_share(part: int, whole: int) -> EstimatedShare:
    interval = proportion_interval(part, whole)
    low, high = interval if interval else (None, None)
    return EstimatedShare(part, whole, part / whole if whole else None, low, high)


@dataclass(frozen=True)
class VariantFigures:
    """appointments: the variant's appointments. answer_rate: answered /
    appointments. cancellation_rate: cancelled / appointments. no_show_rate:
    no_shows / attendance_known (appointments whose attendance is recorded)."""
    variant: str
    appointments: int
    answered: int
    cancelled: int
    no_shows: int
    attendance_known: int
    answer_rate: EstimatedShare
    cancellation_rate: EstimatedShare
    no_show_rate: EstimatedShare


@dataclass(frozen=True)
class Difference:
    """value: a difference of two rates; low..high its 95 % interval."""
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ExperimentFigures:
    """variants: by name. leader: the variant with the highest answer rate
    (ties: the first by name), runner_up the next one; both None with one
    variant. answer_rate_difference: leader's answer rate - runner_up's,
    with Newcombe's interval (not adjusted for picking the best of several).
    appointments_needed: per variant, to see a difference of minimum_effect
    from the experiment's overall answer rate (alpha 0.05, power 0.8);
    still_needed: what the smallest variant lacks. verdict: a VERDICT_* code."""
    office_id: str
    experiment: str
    variants: List[VariantFigures]
    leader: Optional[str]
    runner_up: Optional[str]
    answer_rate_difference: Optional[Difference]
    minimum_effect: float
    appointments_needed: int
    still_needed: int
    verdict: str


def experiment_figures(rows: Iterable[VariantOutcome], minimum_effect: float = 0.05) -> List[ExperimentFigures]:
    """The figures of every (office, experiment) in rows, in that order.
    minimum_effect: the smallest difference in answer rate worth seeing,
    up to 0.5 (so that a rate that far from any base rate exists)."""
    if not 0 < minimum_effect <= 0.5:
        raise ValueError(f"minimum_effect must be in (0, 0.5], not {minimum_effect}")
    groups: Dict[Tuple[str, str], Dict[str, List[VariantOutcome]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        groups[(row.office_id, row.experiment)][row.variant].append(row)
    return [_experiment(office, experiment, [_variant(name, group) for name, group in sorted(by_variant.items())],
                        minimum_effect) for (office, experiment), by_variant in sorted(groups.items())]


def _variant(name: str, outcomes: List[VariantOutcome]) -> VariantFigures:
    answered, cancelled = sum(o.answered for o in outcomes), sum(o.cancelled for o in outcomes)
    known = [o.no_show for o in outcomes if o.no_show is not None]
    return VariantFigures(name, len(outcomes), answered, cancelled, sum(known), len(known),
                          estimated_share(answered, len(outcomes)), estimated_share(cancelled, len(outcomes)),
                          estimated_share(sum(known), len(known)))


def _experiment(office: str, experiment: str, variants: List[VariantFigures],
                minimum_effect: float) -> ExperimentFigures:
    answered, appointments = sum(v.answered for v in variants), sum(v.appointments for v in variants)
    needed = appointments_needed(answered / appointments, minimum_effect)
    left = still_needed([v.appointments for v in variants], needed)
    if len(variants) < 2:
        return ExperimentFigures(office, experiment, variants, None, None, None, minimum_effect, needed, left,
                                 VERDICT_ONE_VARIANT)
    # Exact fractions: two equal rates must tie, whatever the float rounding.
    leader, runner_up = sorted(variants, key=lambda v: (-Fraction(v.answered, v.appointments), v.variant))[:2]
    interval = difference_interval(leader.answered, leader.appointments, runner_up.answered, runner_up.appointments)
    assert interval is not None, "every variant listed has appointments"
    low, high = interval
    difference = Difference(leader.answered / leader.appointments - runner_up.answered / runner_up.appointments,
                            low, high)
    return ExperimentFigures(office, experiment, variants, leader.variant, runner_up.variant, difference,
                             minimum_effect, needed, left, _verdict(difference, minimum_effect))


def _verdict(difference: Difference, minimum_effect: float) -> str:
    if difference.low > 0:
        return VERDICT_LEADER_ANSWERS_MORE
    if -minimum_effect < difference.low and difference.high < minimum_effect:
        return VERDICT_NO_DIFFERENCE_OF_THAT_SIZE
    return VERDICT_NO_DIFFERENCE_YET
