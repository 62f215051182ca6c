"""The NLU review page: what the assistant was unsure about, relabelled by an
editor, exported as training data that Rasa accepts merged into data/."""
from __future__ import annotations

import html as html_lib
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Tuple

import yaml

import bot.foundation.clock
from bot.console.nlu_project import ProjectNlu
from bot.console.nlu_review_table import reviews_table
from bot.console.nlu_review_texts import loose_key
from bot.foundation.db import get_engine
from bot.foundation.phone import mask
from bot.foundation.settings import PROJECT_ROOT
from bot.nlu.training_files import load_holdout
from tests.support.nlu_text import normalised

ANA = "+34612345678"
BOB = "+34699887766"
LANGUAGE_CA = [{"entity": "language", "value": "ca", "start": 0, "end": 5}]
LANGUAGE_ES = [{"entity": "language", "value": "es", "start": 0, "end": 5}]

# Messages no file in data/ or tests/nlu/ has (checked by `_new_to_the_project`).
MOVE_IT = "no podré venir dimarts, millor el dijous a la tarda"
WEATHER = "saps si plourà a la platja aquest cap de setmana"
PERSONAL = "em dic Joan Garcia Puig i el meu DNI és 12345678Z"


def ago(**delta) -> datetime:
    return bot.foundation.clock.now(timezone.utc) - timedelta(**delta)


def _new_to_the_project(*texts: str) -> None:
    project = ProjectNlu()
    known = project.training_keys() | project.holdout_keys()
    assert [t for t in texts if loose_key(t) in known] == [], "pick texts the project does not have yet"


def rows(html: str) -> List[Tuple[str, str]]:
    """(message, times seen) for each row of the review table."""
    texts = [html_lib.unescape(t) for t in re.findall(r'data-test="nlu-text">(.*?)</td>', html, re.S)]
    counts = re.findall(r'data-test="nlu-count">(.*?)</td>', html, re.S)
    return list(zip(texts, counts))


def row_texts(html: str) -> List[str]:
    return [text for text, _ in rows(html)]


def exported(body: bytes) -> Dict[str, List[str]]:
    """{intent: [examples]} of an exported file, read as plain YAML."""
    data = yaml.safe_load(body.decode("utf-8"))
    assert data["version"] == "3.1"
    return {item["intent"]: [line[2:] for line in item["examples"].splitlines()]
            for item in data["nlu"]}


async def test_unsure_and_fallback_messages_are_listed_grouped_and_without_the_number(console):
    tracker = console.tracker
    tracker.user(ANA, ago(hours=50), "Vull  canviar l'hora,  SISPLAU ", "reschedule_appointment", 0.41,
                 LANGUAGE_CA)
    tracker.user(BOB, ago(hours=3), "vull canviar l'hora, sisplau", "reschedule_appointment", 0.38, LANGUAGE_CA)
    # As Rasa records a FallbackClassifier hit: the classifier's own guess comes second.
    fallback = {"text": "qué pasa con lo mío", "intent": {"name": "nlu_fallback", "confidence": 0.45},
                "entities": LANGUAGE_ES, "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45},
                                                            {"name": "ask_location", "confidence": 0.31}]}
    tracker.add(ANA, "user", ago(hours=4), {"text": "qué pasa con lo mío", "parse_data": fallback},
                intent="nlu_fallback")
    tracker.user(ANA, ago(hours=5), "sí, hi seré", "confirm_appointment", 0.97, LANGUAGE_CA)
    # A button tap arrives already labelled: never something to review.
    tracker.user(ANA, ago(hours=6), "/cancel_appointment", "cancel_appointment", 0.2)
    tracker.user(BOB, ago(days=40), "un missatge de fa massa temps", "greet", 0.2)
    tracker.bot(ANA, ago(hours=2), "D'acord, ho miro")

    editor = await console.client("editor")
    status, html = await editor.get("/console/nlu")
    assert status == 200
    assert rows(html) == [("vull canviar l'hora, sisplau", "2"), ("qué pasa con lo mío", "1")]
    assert "Not understood (nlu_fallback)" in html and "best guess: ask_location" in html
    assert "reschedule_appointment" in html and "41.0 %" not in html and "38.0 %" in html, "the latest guess"
    for trace in (ANA, BOB, mask(ANA), mask(BOB), "612345678", "699887766"):
        assert trace not in html

    # The threshold is the editor's, per view.
    _, html = await editor.get("/console/nlu", threshold="0.99")
    assert "sí, hi seré" in row_texts(html)
    _, html = await editor.get("/console/nlu", threshold="0,3")
    assert row_texts(html) == ["qué pasa con lo mío"], "fallbacks are listed whatever the threshold"
    _, html = await editor.get("/console/nlu", **{"from": ago(days=45).date().isoformat()})
    assert "un missatge de fa massa temps" in row_texts(html)

    _, html = await editor.get("/console/nlu", language="es")
    assert row_texts(html) == ["qué pasa con lo mío"]
    _, html = await editor.get("/console/nlu", intent="reschedule_appointment")
    assert row_texts(html) == ["vull canviar l'hora, sisplau"]


async def test_an_editor_relabels_marks_out_of_scope_and_ignores_then_exports(console):
    _new_to_the_project(MOVE_IT, WEATHER)
    tracker = console.tracker
    move_it = tracker.user(ANA, ago(hours=5), MOVE_IT, "cancel_appointment", 0.52)
    weather = tracker.user(BOB, ago(hours=4), WEATHER, "nlu_fallback", 0.45)
    personal = tracker.user(BOB, ago(hours=3), PERSONAL, "greet", 0.31)

    editor = await console.client("editor")
    await editor.get("/console/nlu")
    status, html = await editor.post("/console/nlu/review", {
        f"label_{move_it}": "reschedule_appointment", "save": str(move_it), "next": "/console/nlu"})
    assert status == 200 and "Reviews saved: 1." in html
    assert MOVE_IT not in row_texts(html), "reviewed rows leave the to-review list"
    # Both other rows at once; a row left on "choose" is not touched.
    status, html = await editor.post("/console/nlu/review", {
        f"label_{weather}": "out_of_scope", f"label_{personal}": "ignore", "save": "all",
        "next": "/console/nlu"})
    assert status == 200 and "Reviews saved: 2." in html and row_texts(html) == []

    _, html = await editor.get("/console/nlu", status="reviewed")
    assert sorted(row_texts(html)) == sorted([MOVE_IT, WEATHER, PERSONAL])
    with get_engine(console.settings.db_url).connect() as conn:
        stored = [row.text for row in conn.execute(reviews_table.select())]
    assert not any("DNI" in text for text in stored), "an ignored message's text is not kept"
    assert html.count("by editor") == 3

    status, body, headers = await editor.get_raw("/console/nlu/export.yml")
    assert status == 200
    assert re.fullmatch(r'attachment; filename="recorda-reviewed-nlu-\d{4}-\d\d-\d\d\.yml"',
                        headers["Content-Disposition"])
    text = body.decode("utf-8")
    assert "make nlu-check" in text and "data/nlu/" in text
    assert exported(body) == {"out_of_scope": [WEATHER], "reschedule_appointment": [MOVE_IT]}
    assert "DNI" not in text and "12345678Z" not in text
    for trace in (ANA, BOB, mask(ANA), "612345678"):
        assert trace not in text

    # Once exported, "only new" has nothing more; "all" has them again.
    _, body, _ = await editor.get_raw("/console/nlu/export.yml?scope=new")
    assert exported(body) == {}
    _, body, _ = await editor.get_raw("/console/nlu/export.yml?scope=all")
    assert exported(body) == {"out_of_scope": [WEATHER], "reschedule_appointment": [MOVE_IT]}

    # Relabelling overwrites, and the new label is new for the export.
    await editor.post("/console/nlu/review", {f"label_{move_it}": "request_new_appointment",
                                              "save": str(move_it)})
    _, body, _ = await editor.get_raw("/console/nlu/export.yml?scope=new")
    assert exported(body) == {"request_new_appointment": [MOVE_IT]}


async def test_staff_cannot_review_or_export_and_nobody_signed_out_can(console):
    message = console.tracker.user(ANA, ago(hours=1), "ho puc fer per telèfon?", "ask_documents", 0.3)
    staff = await console.client("staff")
    status, html = await staff.get("/console/nlu")
    assert status == 403 and "ho puc fer" not in html
    status, body, _ = await staff.get_raw("/console/nlu/export.yml")
    assert status == 403 and b"nlu:" not in body
    status, _ = await staff.post("/console/nlu/review", {f"label_{message}": "greet", "save": str(message)})
    assert status == 403

    anonymous = await console.client()
    status, _, _ = await anonymous.get_raw("/console/nlu/export.yml")
    assert status == 401
    status, _, headers = await anonymous.get_raw("/console/nlu")
    assert status == 303 and headers["Location"].startswith("/console/sign-in")

    admin = await console.client("admin")
    status, html = await admin.get("/console/nlu")
    assert status == 200 and "ho puc fer per telèfon?" in html


async def test_brackets_braces_and_odd_characters_export_as_plain_text(console):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
    written = "puc venir [demà](x) o [dijous]{\"entity\": \"day\"}?\tVull\u2028dir\x07 #segur: - {sí}"
    message = console.tracker.user(ANA, ago(hours=1), written, "reschedule_appointment", 0.3)
    editor = await console.client("editor")
    await editor.get("/console/nlu")
    await editor.post("/console/nlu/review", {f"label_{message}": "reschedule_appointment",
                                              "save": str(message)})
    _, body, _ = await editor.get_raw("/console/nlu/export.yml")

    data = RasaYAMLReader().reads(body.decode("utf-8"))
    [example] = data.intent_examples
    assert example.get("intent") == "reschedule_appointment"
    assert example.get("entities") in (None, []), "nothing may be read as an entity"
    assert example.get("text") == "puc venir (demà)(x) o (dijous){\"entity\": \"day\"}? Vull dir #segur: - {sí}"


async def test_what_data_already_has_is_left_out_and_the_page_says_why(console):
    tracker = console.tracker
    known = tracker.user(ANA, ago(hours=6), "Yes!!", "greet", 0.4)             # data/nlu/en.yml: "yes"
    held_out = tracker.user(ANA, ago(hours=5), "YES CONFRIM", "greet", 0.4)    # tests/nlu/holdout_en.yml
    first = tracker.user(BOB, ago(hours=4), "ens veiem dimarts sens falta", "greet", 0.4)
    again = tracker.user(BOB, ago(hours=3), "Ens veiem dimarts, sens falta!", "greet", 0.4)
    _new_to_the_project("ens veiem dimarts sens falta")
    editor = await console.client("editor")
    await editor.get("/console/nlu")
    await editor.post("/console/nlu/review", {f"label_{known}": "confirm_appointment",
                                              f"label_{held_out}": "confirm_appointment",
                                              f"label_{first}": "confirm_appointment",
                                              f"label_{again}": "confirm_appointment", "save": "all"})
    # An intent removed from domain.yml after the review.
    with get_engine(console.settings.db_url).begin() as conn:
        conn.execute(reviews_table.insert().values(
            text_key="0" * 64, text="una intenció que ja no existeix", intent="ask_parking", ignored=False,
            reviewer="editor", reviewed_at=bot.foundation.clock.now(timezone.utc)))

    _, html = await editor.get("/console/nlu")
    for reason in ("in_training_data", "in_holdout", "duplicate", "unknown_intent"):
        found = re.search(rf'data-test="nlu-skipped-{reason}">\s*<td>[^<]+</td>\s*<td class="num">1</td>', html)
        assert found, reason
    assert "Left out as already in data/" in html and "evaluation set" in html
    assert re.search(r'data-test="nlu-ready-new">1<', html)

    _, body, _ = await editor.get_raw("/console/nlu/export.yml")
    assert exported(body) == {"confirm_appointment": ["ens veiem dimarts sens falta"]}
    text = body.decode("utf-8")
    assert "Left out: 1 already in data/" in text and "1 in the held-out evaluation set" in text


async def test_bad_filters_and_labels_get_a_clear_400(console):
    typed = console.tracker.user(ANA, ago(hours=2), "quan obriu dissabte", "ask_opening_hours", 0.3)
    button = console.tracker.user(ANA, ago(hours=1), "/confirm_appointment", "confirm_appointment", 0.3)
    answer = console.tracker.bot(ANA, ago(hours=1), "Obrim de 9 a 14")
    editor = await console.client("editor")
    for params, message in (({"threshold": "2"}, "between 0 and 1"), ({"threshold": "abc"}, "between 0 and 1"),
                            ({"from": "2026-13-01"}, "is not a date"),
                            ({"from": "2026-03-02", "to": "2026-03-01"}, "start date is after"),
                            ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 366 days"),
                            ({"status": "maybe"}, "filter is not valid")):
        status, html = await editor.get("/console/nlu", **params)
        assert status == 400 and message in html, params
    await editor.get("/console/nlu")
    for label, event in (("EXTERNAL_media_message", typed), ("made_up", typed),
                         ("greet", button), ("greet", answer), ("greet", 999999)):
        status, html = await editor.post("/console/nlu/review", {f"label_{event}": label, "save": str(event)})
        assert status == 400, (label, event)
    status, _ = await editor.post("/console/nlu/review", {f"label_{typed}": "greet", "save": "drop table"})
    assert status == 400
    status, _, _ = await editor.get_raw("/console/nlu/export.yml?scope=everything")
    assert status == 400
    _, html = await editor.get("/console/nlu", status="reviewed")
    assert row_texts(html) == [], "nothing was saved"


async def test_the_export_merged_into_data_passes_rasa_data_validate(console, tmp_path):
    """Slow on purpose (~30-60 s): it runs Rasa's own validator, the check
    `make nlu-check` starts with, on a copy of data/ with the export added."""
    _new_to_the_project(MOVE_IT, WEATHER, "Hola!!! Soc la Maria", "vindré amb la meva filla ok")
    tracker = console.tracker
    labels = {
        tracker.user(ANA, ago(hours=9), MOVE_IT, "cancel_appointment", 0.5): "reschedule_appointment",
        tracker.user(ANA, ago(hours=8), WEATHER, "nlu_fallback", 0.45): "out_of_scope",
        tracker.user(ANA, ago(hours=7), "ok!", "greet", 0.4): "confirm_appointment",          # in data/ already
        tracker.user(ANA, ago(hours=6), "yes confrim", "greet", 0.4): "confirm_appointment",  # held out
        tracker.user(BOB, ago(hours=5), "vindré amb [la meva filla](person) {ok}", "greet", 0.3):
            "confirm_appointment",
        tracker.user(BOB, ago(hours=4), "Hola!!! Soc la Maria", "greet", 0.5): "greet",
        tracker.user(BOB, ago(hours=3), PERSONAL, "greet", 0.3): "ignore",
    }
    editor = await console.client("editor")
    await editor.get("/console/nlu")
    form = {f"label_{event}": label for event, label in labels.items()}
    await editor.post("/console/nlu/review", dict(form, save="all"))
    _, body, headers = await editor.get_raw("/console/nlu/export.yml")
    assert len(exported(body)["confirm_appointment"]) == 1

    data = tmp_path / "data"
    shutil.copytree(PROJECT_ROOT / "data", data)
    filename = re.search(r'filename="([^"]+)"', headers["Content-Disposition"]).group(1)
    (data / "nlu" / filename).write_bytes(body)
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "rasa"), "data", "validate", "--data", str(data),
         "--domain", "domain.yml", "--config", "config.yml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # `rasa data validate` only warns (exit 0) about an example under two
    # intents or an intent the domain lacks; `make nlu-check` must not see either.
    for warning in ("labeled with multiple different intents", "not listed in your domain",
                    "doesn't start with"):
        assert warning not in output, output[-4000:]
    # ... nor a held-out message in the training data (tests/unit/test_nlu_eval.py's own check).
    training = set()
    for path in (data / "nlu").glob("*.yml"):
        for item in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            training |= {normalised(line[2:]) for line in item["examples"].splitlines()}
    assert [e.text for e in load_holdout() if normalised(e.text) in training] == []
