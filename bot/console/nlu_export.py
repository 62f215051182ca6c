"""The NLU review's export: the reviewed messages (not the ignored ones) as
a Rasa NLU training data file that can be merged into data/, minus what
data/ or the held-out set already has, and why each other one is left out."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, List, Set, Tuple

from bot.console.nlu_project import KnownTexts
from bot.console.nlu_review_table import Review
from bot.console.nlu_review_texts import loose_key, normalise, training_example

# Why a reviewed message is not in an export, in the order the page lists them.
SKIP_IGNORED = "ignored"
SKIP_IN_TRAINING = "in_training_data"
SKIP_IN_HOLDOUT = "in_holdout"
SKIP_DUPLICATE = "duplicate"
SKIP_UNKNOWN_INTENT = "unknown_intent"
SKIP_EMPTY = "empty"
SKIP_REASONS = (SKIP_IN_TRAINING, SKIP_IN_HOLDOUT, SKIP_DUPLICATE, SKIP_UNKNOWN_INTENT, SKIP_EMPTY,
                SKIP_IGNORED)

SKIP_EXPLANATIONS = {
    SKIP_IGNORED: "marked as not training data",
    SKIP_IN_TRAINING: "already in data/ (the same words apart from case or punctuation)",
    SKIP_IN_HOLDOUT: "in the held-out evaluation set tests/nlu/holdout_*.yml, which must stay unseen",
    SKIP_DUPLICATE: "the same words as another exported message apart from case or punctuation",
    SKIP_UNKNOWN_INTENT: "labelled with an intent that domain.yml no longer has",
    SKIP_EMPTY: "nothing left once made safe for Rasa",
}


@dataclass(frozen=True)
class ExportEntry:
    intent: str
    text: str          # as it goes into the file
    key: str           # the review's text_key


@dataclass
class ExportPlan:
    only_new: bool
    entries: List[ExportEntry] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_texts: List[Tuple[str, str]] = field(default_factory=list)   # (reason, text)

    @property
    def intents(self) -> List[str]:
        return sorted({entry.intent for entry in self.entries})


def plan_export(reviews: Iterable[Review], known: KnownTexts, only_new: bool) -> ExportPlan:
    """Which reviewed messages go into the file under which intent, and why
    the others do not. The file must pass `rasa data validate` merged into
    data/: no example twice, no intent the domain lacks, no held-out text."""
    plan = ExportPlan(only_new=only_new)
    chosen: Set[str] = set()
    for review in sorted(reviews, key=lambda r: (r.intent or "", normalise(r.text))):
        if only_new and review.exported_at is not None:
            continue
        text = training_example(review.text)
        loose = loose_key(text) if text else ""
        reason = (SKIP_IGNORED if review.ignored
                  else SKIP_UNKNOWN_INTENT if review.intent not in known.intents
                  else SKIP_EMPTY if not text
                  else SKIP_IN_HOLDOUT if loose in known.holdout
                  else SKIP_IN_TRAINING if loose in known.training
                  else SKIP_DUPLICATE if loose in chosen
                  else None)
        if reason:
            plan.skipped[reason] += 1
            plan.skipped_texts.append((reason, review.text))
            continue
        # Only a known intent gets here, and None is not one.
        assert review.intent is not None
        chosen.add(loose)
        plan.entries.append(ExportEntry(review.intent, text, review.key))
    plan.entries.sort(key=lambda e: (e.intent, normalise(e.text)))
    return plan


def training_yaml(plan: ExportPlan, exported_at: datetime, exported_by: str, filename: str) -> str:
    """The plan as a Rasa 3 NLU training data file, with a header saying
    where it came from and how to merge it."""
    scope = "messages not exported before" if plan.only_new else "every reviewed message"
    lines = [
        "# Recorda: NLU examples that content editors reviewed in the staff console",
        "# (NLU review page): messages citizens typed that the assistant was unsure",
        "# about, each under the intent the editor chose.",
        f"# Exported {exported_at.strftime('%Y-%m-%d %H:%M')} UTC by {exported_by} ({scope}):",
        f"# Examples: {len(plan.entries)}, under {len(plan.intents)} intent(s).",
    ]
    for reason in SKIP_REASONS:
        if plan.skipped[reason]:
            lines.append(f"# Left out: {plan.skipped[reason]} {SKIP_EXPLANATIONS[reason]}.")
    lines += [
        "#",
        "# How to merge it:",
        f"#   1. Copy this file into data/nlu/ as it is (data/nlu/{filename}).",
        "#   2. Run `make nlu-check`: it validates the data, trains, runs the",
        "#      conversation tests and scores the model on the held-out messages.",
        "#   3. Keep the file if the scores hold up, then deploy the new model.",
        "# Do not merge two exports of \"every reviewed message\": their examples",
        "# overlap and `rasa data validate` refuses an example given twice.",
        "",
        'version: "3.1"',
        "",
    ]
    if not plan.entries:
        lines.append("nlu: []")
        return "\n".join(lines) + "\n"
    lines.append("nlu:")
    for intent in plan.intents:
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {entry.text}" for entry in plan.entries if entry.intent == intent]
    return "\n".join(lines) + "\n"
