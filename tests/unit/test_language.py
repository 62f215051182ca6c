"""Telling Catalan, Spanish and English apart in WhatsApp messages, and the
conversation's language following the citizen both ways."""
from pathlib import Path

import pytest
import yaml

from bot.foundation.languages import LANGUAGES
from bot.nlu.language import detect, follow
from tests.support import ROOT


@pytest.mark.parametrize("text,expected", [
    ("no podré venir, ho podem deixar per dijous?", "ca"),
    ("no, no vull anul·lar-la, hi seré", "ca"),
    ("on és l'oficina?", "ca"),
    ("q papeles tengo q traer", "es"),
    ("hola, quiero anular la cita de mañana", "es"),
    ("¿dónde está la oficina?", "es"),
    ("can't make it tomorrow, please cancel", "en"),
    ("what time is my appointment", "en"),
    # Catalan without accents, with "esta" (està) and "podre" (podré), which
    # Spanish writes the same.
    ("no se si podre venir, el meu fill esta malalt", "ca"),
    ("Hola, no podré venir demà, tinc febre", "ca"),
    ("ja us diré alguna cosa dema al mati", "ca"),
    ("tinc el cotxe al taller, arribaré una mica tard", "ca"),
    ("Bon dia, avui no em trobo gaire bé, potser no podré anar-hi", "ca"),
    ("recorda'm a quina hora és", "ca"),
    ("hola, mañana no puedo ir, tengo médico", "es"),
    ("mi marido está malo, no sé si iremos", "es"),
    ("no podre ir xq trabajo hasta las 3", "es"),
    ("cal portar algo más aparte del dni? es que no lo sé", "es"),
    ("sorry I can't make it tomorrow, my daughter is sick", "en"),
    ("running a bit late, sorry!", "en"),
    ("not sure if I can come, will let you know", "en"),
    # Too short or shared by the languages: no opinion, the slot stays.
    ("👍", None), ("ok", None), ("si", None), ("sí", None), ("no", None), ("hola", None),
    ("confirmo", None), ("vale", None), ("gràcies", None), ("gracias", None), ("thanks", None),
    ("d'acord", None), ("ok 👍", None), ("si si", None), ("no no", None), ("ok gracias", None),
    ("si, gracies", None), ("vale, d'acord", None), ("la cita", None), ("a les 10", None),
    ('/cancel_appointment{"appointment_id":"X"}', None),
    # English "hi" opens a message; Catalan "hi" ("no hi seré") is no English.
    ("hi", None), ("no hi seré", "ca"),
])
def test_clear_messages_and_no_opinion_on_the_rest(text, expected):
    assert detect(text) == expected


def test_the_language_follows_the_citizen_both_ways():
    """es -> ca -> es -> en: each clear message switches, from the language
    the reminder was sent in."""
    conversation = [
        ("hola, mañana no puedo ir, tengo que trabajar", "es"),
        ("perdoneu, m'he equivocat: no se si podre venir, el meu fill esta malalt", "ca"),
        ("vale, pues ya os digo algo mañana por la mañana", "es"),
        ("sorry, my wife says we can come after all, see you tomorrow", "en"),
        ("ja us diré alguna cosa, gràcies", "ca"),
    ]
    language = "ca"  # the booking record's
    for text, expected in conversation:
        language = follow(language, text)
        assert language == expected, text


@pytest.mark.parametrize("current", LANGUAGES)
@pytest.mark.parametrize("short", ["ok", "si", "sí", "no", "👍", "👍🏻", "✅", "vale", "okk", "nop",
                                   "gràcies", "gracias", "thanks", "ok 👍", "si si", "no no",
                                   "perfecte", "perfecto", "d'acord", "dacord", "hola", "yes", "ok!!",
                                   "/affirm", ""])
def test_short_answers_switch_nothing(current, short):
    assert follow(current, short) == current


def test_the_component_marks_clear_messages_only():
    from rasa.shared.nlu.constants import ENTITIES, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from components.language_detector import LanguageDetector

    messages = [Message(data={TEXT: text}) for text in
                ("no se si podre venir, el meu fill esta malalt", "👍", "can't come tomorrow, sorry")]
    LanguageDetector().process(messages)
    found = [[e["value"] for e in m.get(ENTITIES, []) if e["entity"] == "language"] for m in messages]
    assert found == [["ca"], [], ["en"]]


def _examples(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [line[2:].strip() for item in data["nlu"] for line in item["examples"].splitlines()
            if line.startswith("- ")]


@pytest.mark.parametrize("folder,pattern,coverage", [
    ("tests/nlu", "holdout_{}.yml", 0.8),
    ("data/nlu", "{}.yml", 0.7),
])
@pytest.mark.parametrize("language", LANGUAGES)
def test_labelled_messages_are_never_put_in_another_language(folder, pattern, coverage, language):
    examples = _examples(ROOT / folder / pattern.format(language))
    detected = [detect(e) for e in examples]
    wrong = [(e, d) for e, d in zip(examples, detected) if d and d != language]
    assert wrong == []
    # Most messages long enough to tell are told.
    assert sum(d == language for d in detected) / len(examples) >= coverage
