"""The held-out scoring: its arithmetic, and that the set never overlaps the
training data."""
import re
import unicodedata
from pathlib import Path

import yaml

from bot.nlu_eval import Example, load_holdout, macro_f1, score

ROOT = Path(__file__).resolve().parent.parent


def test_macro_f1_and_false_cancels():
    examples = [Example("a", "confirm_appointment", "ca"), Example("b", "confirm_appointment", "ca"),
                Example("c", "cancel_appointment", "es"), Example("d", "greet", "en")]
    predicted = ["confirm_appointment", "cancel_appointment", "cancel_appointment", "greet"]
    result = score(examples, predicted)
    assert result["accuracy"] == 0.75
    # confirm: P 1, R .5 -> F1 2/3; cancel: P .5, R 1 -> 2/3; greet: 1.
    assert abs(result["macro_f1"] - (2 / 3 + 2 / 3 + 1) / 3) < 1e-9
    assert result["false_cancel_rate"] == 1 / 3 and result["false_cancels"] == ["b"]
    assert result["worst_confusions"][0] == {"gold": "confirm_appointment",
                                             "predicted": "cancel_appointment", "count": 1}
    assert macro_f1(["x"], ["x"]) == 1.0


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", text).strip()


def test_holdout_is_large_enough_and_never_in_training():
    holdout = load_holdout()
    assert len(holdout) >= 300
    assert {e.language for e in holdout} == {"ca", "es", "en"}
    training = set()
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            training |= {_normalised(line[2:]) for line in item["examples"].splitlines()
                         if line.startswith("- ")}
    assert [e.text for e in holdout if _normalised(e.text) in training] == []
