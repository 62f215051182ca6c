"""The held-out scoring: its arithmetic, its targets, and that the set never
overlaps the training data (the trained model on the held-out set:
tests/integration/test_nlu_model.py)."""
from collections import Counter

import yaml

from bot.dev.nlu_eval import TARGET_FALSE_CANCEL, TARGET_LANGUAGE_F1, TARGET_MACRO_F1, macro_f1, main, score
from bot.messaging.payloads import BUTTON_ONLY_INTENTS
from bot.nlu.training_files import Example, load_holdout
from tests.support import ROOT
from tests.support.nlu_text import normalised


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
    # Some only come from a button; EXTERNAL_ ones from Recorda.
    return {i for i in domain["intents"] if not i.startswith("EXTERNAL_") and i not in BUTTON_ONLY_INTENTS}


def test_holdout_is_large_enough_and_never_in_training():
    holdout = load_holdout()
    assert len(holdout) >= 500
    assert {e.language for e in holdout} == {"ca", "es", "en"}
    training = {normalised(text) for _, _, text in _training()}
    assert [e.text for e in holdout if normalised(e.text) in training] == []
    assert len({(normalised(e.text), e.language) for e in holdout}) == len(holdout)


def test_every_typed_intent_is_trained_and_held_out_in_every_language():
    intents = _typed_intents()
    trained = Counter((language, intent) for language, intent, _ in _training())
    held_out = Counter((e.language, e.intent) for e in load_holdout())
    for language in ("ca", "es", "en"):
        for intent in intents:
            assert trained[language, intent] >= 15, (language, intent)
            assert held_out[language, intent] >= 4, (language, intent)
    assert {i for _, i, _ in _training()} == intents  # button-only intents: no examples
    assert {e.intent for e in load_holdout()} == intents
