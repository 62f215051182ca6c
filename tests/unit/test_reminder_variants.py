"""Which wording variant an appointment gets (bot/reminders/variants.py):
the same one on every run and in every process, each variant equally often,
and retiring a variant moves only the appointments that had it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import List, Sequence

import pytest

from bot.reminders.variants import assign_variant
from tests.support import ROOT

OFFICE = "oac-centre"
EXPERIMENT = "cost-sentence-2026"
IDS = [f"apt-{n}" for n in range(20_000)]
# Chi-square critical values at p = 0.001 for 1 and 2 degrees of freedom.
CHI2_CRITICAL = {2: 10.83, 3: 13.82}


def assignments(variants: Sequence[str], ids: List[str] = IDS, experiment: str = EXPERIMENT) -> List[str]:
    return [assign_variant(i, OFFICE, variants, experiment) for i in ids]


def test_the_same_appointment_gets_the_same_variant_in_another_process():
    # Another hash seed: Python's hash() would give other variants there.
    script = ("import json; from bot.reminders.variants import assign_variant; "
              f"print(json.dumps([assign_variant(f'apt-{{n}}', {OFFICE!r}, ['A', 'B', 'C'], {EXPERIMENT!r}) "
              "for n in range(200)]))")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(output) == assignments(["A", "B", "C"], IDS[:200])


def test_assignments_do_not_change_between_versions_of_the_code():
    # Pinned: a change to the hashed key would reshuffle every running experiment.
    assert assignments(["A", "B"], IDS[:12]) == ["B", "B", "A", "A", "B", "A", "B", "A", "B", "B", "A", "A"]


def test_the_order_the_variants_are_listed_in_does_not_matter():
    assert assignments(["A", "B", "C"], IDS[:2000]) == assignments(["C", "A", "B"], IDS[:2000])


@pytest.mark.parametrize("variants", [["A", "B"], ["A", "B", "C"]])
def test_each_variant_gets_an_equal_share(variants):
    counts = Counter(assignments(variants))
    expected = len(IDS) / len(variants)
    for variant in variants:
        assert abs(counts[variant] / len(IDS) - 1 / len(variants)) < 0.03
    chi2 = sum((counts[v] - expected) ** 2 / expected for v in variants)
    assert chi2 < CHI2_CRITICAL[len(variants)]


def test_retiring_a_variant_moves_only_its_appointments_spread_over_the_others():
    before = assignments(["A", "B", "C"])
    after = assignments(["A", "B"])
    assert all(new == old for old, new in zip(before, after) if old != "C")
    moved = Counter(new for old, new in zip(before, after) if old == "C")
    assert abs(moved["A"] / sum(moved.values()) - 0.5) < 0.03


def test_adding_a_variant_takes_its_appointments_from_every_variant_alike():
    before = assignments(["A", "B"])
    after = assignments(["A", "B", "C"])
    assert all(new in (old, "C") for old, new in zip(before, after))
    kept = Counter(old for old, new in zip(before, after) if new == old)
    assert abs(kept["A"] / kept["B"] - 1) < 0.05


def test_two_experiments_split_the_same_appointments_independently():
    # Otherwise every experiment would show its variant "A" to the same citizens.
    same = sum(a == b for a, b in zip(assignments(["A", "B"]), assignments(["A", "B"], experiment="other")))
    assert abs(same / len(IDS) - 0.5) < 0.03


def test_the_same_appointment_number_in_another_office_is_another_draw():
    here = assignments(["A", "B"])
    there = [assign_variant(i, "oac-nord", ["A", "B"], EXPERIMENT) for i in IDS]
    assert abs(sum(a == b for a, b in zip(here, there)) / len(IDS) - 0.5) < 0.03


def test_an_experiment_without_variants_is_refused():
    with pytest.raises(ValueError, match=EXPERIMENT):
        assign_variant("apt-1", OFFICE, [], EXPERIMENT)
