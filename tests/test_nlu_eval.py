"""The held-out scoring: its arithmetic, its targets, that the set never
overlaps the training data, and (when a trained model is at hand) the model
itself on the held-out set and on the short answers."""
import asyncio
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.dev.nlu_eval import (TARGET_FALSE_CANCEL, TARGET_LANGUAGE_F1, TARGET_MACRO_F1, Example,
                          load_holdout, macro_f1, main, predict, score)

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
    assert result["non_cancellations"] == 3
    assert result["worst_confusions"][0] == {"gold": "confirm_appointment",
                                             "predicted": "cancel_appointment", "count": 1}
    assert result["per_intent"]["cancel_appointment"] == {"n": 1, "recall": 1.0, "precision": 0.5,
                                                          "f1": 2 / 3}
    assert macro_f1(["x"], ["x"]) == 1.0


def test_a_doubt_or_a_no_read_as_a_cancellation_is_a_false_cancel():
    examples = [Example("no sé si podré venir", "inform_unsure", "ca"), Example("no", "deny", "ca"),
                Example("arribaré tard", "inform_late", "ca"), Example("anul·leu-la", "cancel_appointment", "ca")]
    result = score(examples, ["cancel_appointment", "cancel_appointment", "inform_late", "cancel_appointment"])
    assert result["false_cancels"] == ["no sé si podré venir", "no"]
    assert result["false_cancel_rate"] == 2 / 3
    assert not result["meets_targets"]


def test_targets():
    assert (TARGET_MACRO_F1, TARGET_LANGUAGE_F1, TARGET_FALSE_CANCEL) == (0.93, 0.90, 0.0025)
    intents = ["greet", "thank", "goodbye", "cancel_appointment"]
    perfect = [Example(f"{i}{n}", i, lang) for lang in ("ca", "es", "en") for i in intents for n in range(10)]
    assert score(perfect, [e.intent for e in perfect])["meets_targets"]
    # Overall macro-F1 above 0.93, but one language below 0.90: missed.
    predicted = [e.intent for e in perfect]
    for k, e in enumerate(perfect):
        if e.language == "en" and e.intent == "greet" and int(e.text[-1]) < 5:
            predicted[k] = "thank"
    result = score(perfect, predicted)
    assert result["macro_f1"] >= TARGET_MACRO_F1 and result["per_language"]["en"]["macro_f1"] < TARGET_LANGUAGE_F1
    assert not result["per_language"]["en"]["meets_target"] and not result["meets_targets"]


def test_no_model_exits_2(tmp_path):
    assert main(["--model", str(tmp_path / "none.tar.gz")]) == 2


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", text).strip()


def _training():
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            if "intent" not in item:
                continue  # emoji.yml's regex features
            for line in item["examples"].splitlines():
                if line.startswith("- "):
                    yield path.stem, item["intent"], line[2:].strip()


def _typed_intents():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    # keep_appointment only comes from a button; EXTERNAL_ ones from Recorda.
    return {i for i in domain["intents"] if not i.startswith("EXTERNAL_") and i != "keep_appointment"}


def test_holdout_is_large_enough_and_never_in_training():
    holdout = load_holdout()
    assert len(holdout) >= 500
    assert {e.language for e in holdout} == {"ca", "es", "en"}
    training = {_normalised(text) for _, _, text in _training()}
    assert [e.text for e in holdout if _normalised(e.text) in training] == []
    assert len({(_normalised(e.text), e.language) for e in holdout}) == len(holdout)


def test_every_typed_intent_is_trained_and_held_out_in_every_language():
    intents = _typed_intents()
    trained = Counter((language, intent) for language, intent, _ in _training())
    held_out = Counter((e.language, e.intent) for e in load_holdout())
    for language in ("ca", "es", "en"):
        for intent in intents:
            assert trained[language, intent] >= 15, (language, intent)
            assert held_out[language, intent] >= 4, (language, intent)
    assert {i for _, i, _ in _training()} == intents  # keep_appointment: no examples
    assert {e.intent for e in load_holdout()} == intents


# --- the trained model -------------------------------------------------------

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
