"""Which wording variant of a reminder an appointment gets, in a wording
experiment: one variant at random, the same one every time it is asked again
(re-runs of the daily job, another process, another machine).

The choice is rendezvous (highest-random-weight) hashing: every variant gets
a score from SHA-256 of (experiment, office, appointment, variant) and the
highest score wins. Each variant's score is independent of the others, so
retiring a variant moves only the appointments that had it (each to the
variant that scored second for it) and adding one takes appointments from
every variant in equal parts; a plain `hash % len(variants)` would reshuffle
nearly every appointment. SHA-256, not hash(): Python salts str hashes per
process.
"""
from __future__ import annotations

import hashlib
import json
from typing import Sequence, Tuple


def assign_variant(appointment_id: str, office_id: str, variants: Sequence[str], experiment: str) -> str:
    """The variant, among the experiment's active `variants`, that the
    appointment gets; each has the same chance. A variant listed twice counts
    once. Raises ValueError when there is no variant."""
    if not variants:
        raise ValueError(f"experiment {experiment!r} has no active variant")
    # The office is part of the key: booking systems number appointments per office.
    return max(variants, key=lambda variant: _score(experiment, office_id, appointment_id, variant))


def _score(experiment: str, office_id: str, appointment_id: str, variant: str) -> Tuple[int, str]:
    # JSON keeps the parts apart ("a"+"bc" and "ab"+"c" hash differently);
    # the variant's name breaks a (2^-64-unlikely) tie so the order of `variants` never matters.
    key = json.dumps([experiment, office_id, appointment_id, variant]).encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big"), variant
