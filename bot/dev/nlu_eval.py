"""Scores a trained model on the held-out messages in tests/nlu/ (written
apart from the training data, never trained on).

    python -m bot.dev.nlu_eval [--model models/current.tar.gz] [--holdout tests/nlu] [--json]

Reports accuracy and macro-F1, per language and per intent, the worst
confusions, and how often `cancel_appointment` is predicted for a message
that is not a cancellation (the mistake that costs a citizen their slot).
Every other intent counts as a non-cancellation: a doubt ("no sé si podré
venir", inform_unsure), a bare "no" (deny), a delay, a confirmation...

Exits 0 when every target is met, 1 when one is missed, 2 when there is no
model to score. Targets: macro-F1 >= 0.93 overall and >= 0.90 in every
language; cancellations predicted for at most 0.25 % of the non-cancellations.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

from bot.foundation.settings import PROJECT_ROOT
from bot.nlu.training_files import HOLDOUT_DIR, Example, load_holdout

TARGET_MACRO_F1 = 0.93  # overall
TARGET_LANGUAGE_F1 = 0.90  # each language on its own
TARGET_FALSE_CANCEL = 0.0025  # share of the non-cancellations read as a cancellation
CANCEL = "cancel_appointment"


def is_cancellation(intent: str) -> bool:
    """Only a cancellation is one: a doubt, a "no", a delay... are not."""
    return intent == CANCEL


def macro_f1(gold: List[str], predicted: List[str]) -> float:
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label and g != label for g, p in zip(gold, predicted))
        fn = sum(g == label and p != label for g, p in zip(gold, predicted))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def score(examples: List[Example], predicted: List[str]) -> Dict:
    gold = [e.intent for e in examples]
    not_cancel = [p for e, p in zip(examples, predicted) if not is_cancellation(e.intent)]
    false_cancels = [e.text for e, p in zip(examples, predicted)
                     if not is_cancellation(e.intent) and is_cancellation(p)]
    per_language = {}
    for language in sorted({e.language for e in examples}):
        pairs = [(e.intent, p) for e, p in zip(examples, predicted) if e.language == language]
        g, p = [a for a, _ in pairs], [b for _, b in pairs]
        f1 = macro_f1(g, p)
        per_language[language] = {"n": len(pairs), "accuracy": _accuracy(g, p), "macro_f1": f1,
                                  "meets_target": f1 >= TARGET_LANGUAGE_F1}
    per_intent = {}
    for intent in sorted(set(gold)):
        tp = sum(g == p == intent for g, p in zip(gold, predicted))
        n = sum(g == intent for g in gold)
        n_predicted = sum(p == intent for p in predicted)
        recall = tp / n if n else 0.0
        precision = tp / n_predicted if n_predicted else 0.0
        per_intent[intent] = {"n": n, "recall": recall, "precision": precision,
                              "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}
    confusions = Counter((g, p) for g, p in zip(gold, predicted) if g != p)
    result = {
        "n": len(examples),
        "accuracy": _accuracy(gold, predicted),
        "macro_f1": macro_f1(gold, predicted),
        "non_cancellations": len(not_cancel),
        "false_cancel_rate": len(false_cancels) / len(not_cancel) if not_cancel else 0.0,
        "false_cancels": false_cancels,
        "per_language": per_language,
        "per_intent": per_intent,
        "worst_confusions": [{"gold": g, "predicted": p, "count": c} for (g, p), c in confusions.most_common(10)],
    }
    result["targets"] = {"macro_f1": TARGET_MACRO_F1, "language_macro_f1": TARGET_LANGUAGE_F1,
                         "false_cancel_rate": TARGET_FALSE_CANCEL}
    result["meets_targets"] = (result["macro_f1"] >= TARGET_MACRO_F1
                               and all(v["meets_target"] for v in per_language.values())
                               and result["false_cancel_rate"] <= TARGET_FALSE_CANCEL)
    return result


def _accuracy(gold: List[str], predicted: List[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold) if gold else 0.0


async def predict(model: Path, texts: List[str]) -> List[str]:
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog
    configure_structlog(logging.ERROR)  # Rasa logs every parse at debug level otherwise
    agent = Agent.load(str(model))
    predicted = []
    for text in texts:
        parsed = await agent.parse_message(text)
        predicted.append((parsed.get("intent") or {}).get("name") or "None")
    return predicted


def print_report(result: Dict) -> None:
    from rich.console import Console
    from rich.table import Table
    console = Console()
    console.print(f"Held-out set: {result['n']} messages  accuracy {result['accuracy']:.3f}  "
                  f"macro-F1 {result['macro_f1']:.3f} (target ≥ {TARGET_MACRO_F1})  "
                  f"false cancels {len(result['false_cancels'])} of {result['non_cancellations']} "
                  f"non-cancellations = {result['false_cancel_rate']:.2%} (target ≤ {TARGET_FALSE_CANCEL:.2%})")
    table = Table(title=f"Per language (macro-F1 target ≥ {TARGET_LANGUAGE_F1:.2f})")
    for column in ("language", "n", "accuracy", "macro-F1"):
        table.add_column(column)
    for language, v in result["per_language"].items():
        f1 = f"{v['macro_f1']:.3f}" if v["meets_target"] else f"[red]{v['macro_f1']:.3f}[/red]"
        table.add_row(language, str(v["n"]), f"{v['accuracy']:.3f}", f1)
    console.print(table)
    table = Table(title="Per intent")
    for column in ("intent", "n", "recall", "precision", "F1"):
        table.add_column(column)
    for intent, v in result["per_intent"].items():
        table.add_row(intent, str(v["n"]), f"{v['recall']:.3f}", f"{v['precision']:.3f}", f"{v['f1']:.3f}")
    console.print(table)
    table = Table(title="Worst confusions")
    for column in ("gold", "predicted", "count"):
        table.add_column(column)
    for c in result["worst_confusions"]:
        table.add_row(c["gold"], c["predicted"], str(c["count"]))
    console.print(table)
    for text in result["false_cancels"]:
        console.print(f"[red]cancel predicted for a non-cancellation:[/red] {text}")
    console.print("[green]All targets met.[/green]" if result["meets_targets"]
                  else "[red]Targets missed.[/red]")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.dev.nlu_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "current.tar.gz")
    parser.add_argument("--holdout", type=Path, default=HOLDOUT_DIR,
                        help="folder of holdout_<language>.yml files (default: tests/nlu)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"No model at {args.model}: train one first (make train).", file=sys.stderr)
        return 2
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.basicConfig(level=logging.ERROR)
    examples = load_holdout(args.holdout)
    predicted = asyncio.run(predict(args.model, [e.text for e in examples]))
    result = score(examples, predicted)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_report(result)
    return 0 if result["meets_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
