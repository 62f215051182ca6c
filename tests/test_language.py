"""Telling Catalan, Spanish and English apart in WhatsApp messages."""
from pathlib import Path

import pytest
import yaml

from bot.language import detect

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text,expected", [
    ("no podré venir, ho podem deixar per dijous?", "ca"),
    ("no, no vull anul·lar-la, hi seré", "ca"),
    ("on és l'oficina?", "ca"),
    ("q papeles tengo q traer", "es"),
    ("hola, quiero anular la cita de mañana", "es"),
    ("¿dónde está la oficina?", "es"),
    ("can't make it tomorrow, please cancel", "en"),
    ("what time is my appointment", "en"),
    # Too short or shared by the languages: no opinion, the slot stays.
    ("👍", None), ("ok", None), ("si", None), ("hola", None), ("confirmo", None),
    ('/cancel_appointment{"appointment_id":"X"}', None),
])
def test_clear_messages_and_no_opinion_on_the_rest(text, expected):
    assert detect(text) == expected


def _examples(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [line[2:].strip() for item in data["nlu"] for line in item["examples"].splitlines()
            if line.startswith("- ")]


@pytest.mark.parametrize("language", ["ca", "es", "en"])
def test_held_out_messages_are_never_put_in_another_language(language):
    examples = _examples(ROOT / "tests" / "nlu" / f"holdout_{language}.yml")
    detected = [detect(e) for e in examples]
    wrong = [(e, d) for e, d in zip(examples, detected) if d and d != language]
    assert wrong == []
    # Most messages long enough to tell are told.
    assert sum(d == language for d in detected) / len(examples) >= 0.4
