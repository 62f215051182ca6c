"""The trained model on the held-out set and on the short answers, when an
up-to-date model is at hand (the scoring itself: tests/unit/test_nlu_eval.py)."""
import asyncio
import os
from pathlib import Path

import pytest

from bot.dev.nlu_eval import TARGET_FALSE_CANCEL, predict, score
from bot.nlu.training_files import load_holdout
from tests.support import ROOT


def _model():
    """RECORDA_NLU_MODEL, else models/current.tar.gz when it is newer than the
    training data and the config (a stale model says nothing)."""
    if os.environ.get("RECORDA_NLU_MODEL"):
        return Path(os.environ["RECORDA_NLU_MODEL"])
    model = ROOT / "models" / "current.tar.gz"
    sources = list((ROOT / "data" / "nlu").glob("*.yml")) + [ROOT / "config.yml"]
    if model.is_file() and model.stat().st_mtime > max(p.stat().st_mtime for p in sources):
        return model
    return None


needs_model = pytest.mark.skipif(_model() is None, reason="no up-to-date model: set RECORDA_NLU_MODEL "
                                                          "or train models/current.tar.gz")


@needs_model
def test_the_model_meets_the_targets_on_the_held_out_set():
    examples = load_holdout()
    result = score(examples, asyncio.run(predict(_model(), [e.text for e in examples])))
    assert result["false_cancel_rate"] <= TARGET_FALSE_CANCEL, result["false_cancels"]
    assert result["meets_targets"], (result["macro_f1"], result["per_language"])


@needs_model
def test_the_model_on_short_answers_and_doubts():
    cases = {
        "si": "affirm", "sí": "affirm", "ok": "affirm", "👍": "affirm", "👍🏻": "affirm", "vale": "affirm",
        "dacord": "affirm", "yes": "affirm", "no": "deny", "nop": "deny", "nope": "deny",
        "no se si podre venir, el meu fill esta malalt": "inform_unsure",
        "igual no puedo ir": "inform_unsure", "not sure I can make it": "inform_unsure",
        "Hola, no podré venir demà, tinc febre": "cancel_appointment",
    }
    predicted = asyncio.run(predict(_model(), list(cases)))
    assert dict(zip(cases, predicted)) == cases


@needs_model
def test_an_emoji_or_sign_the_model_knows_nothing_about_confirms_nothing():
    """A message with no known feature gets the classes' prior, which leans to
    affirm (short answers are short): the FallbackClassifier must catch it,
    and a cross must never read as a yes."""
    texts = ["😡", "🙃", "?", "...", "🫠", "❌", "🚫", "⛔", "👎"]
    predicted = dict(zip(texts, asyncio.run(predict(_model(), texts))))
    assert {t: p for t, p in predicted.items()
            if p in ("affirm", "confirm_appointment", "keep_appointment")} == {}
    assert all(predicted[t] == "nlu_fallback" for t in ["😡", "🙃", "?", "...", "🫠"]), predicted
