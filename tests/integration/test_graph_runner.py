"""Rasa's prediction graph run without dask's scheduler
(bot/patches/graph_runner.py) gives what Rasa's own runner gives, on the
trained model: the same parse of each message and the same next actions for
a conversation, and the same refusal of an input that names a node."""
from __future__ import annotations

import contextlib
from typing import Iterator

import pytest
from rasa.core.agent import Agent
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.patches import graph_runner
from tests.support import ROOT

MODEL = ROOT / "models" / "current.tar.gz"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="needs a trained model (make train)")

TEXTS = ["hola, bon dia", "a quina hora obriu?", "no podré venir demà", "¿puedo cambiar la cita?",
         "what documents do I need?", "👍", "sí", "vull parlar amb una persona", "asdfgh"]


@pytest.fixture(scope="module")
def agent() -> Agent:
    graph_runner.apply()
    return Agent.load(str(MODEL))


@contextlib.contextmanager
def rasas_own() -> Iterator[None]:
    ours = DaskGraphRunner.run
    DaskGraphRunner.run = graph_runner.ORIGINAL["run"]
    try:
        yield
    finally:
        DaskGraphRunner.run = ours


def conversation(text: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker("runner-test", [])
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    return tracker


async def outcomes(agent: Agent):
    parses, actions = [], []
    for text in TEXTS:
        parse = await agent.parse_message(text)
        parses.append(parse)
        tracker = conversation(text)
        tracker.update(UserUttered(text, parse["intent"], parse["entities"], parse_data=parse),
                       agent.domain)
        prediction = agent.processor._predict_next_with_tracker(tracker)
        actions.append((prediction.max_confidence_index, prediction.policy_name,
                        round(prediction.max_confidence, 6)))
    return parses, actions


async def test_the_same_parses_and_next_actions_as_rasas_runner(agent):
    ours = await outcomes(agent)
    with rasas_own():
        theirs = await outcomes(agent)
    assert ours == theirs
    assert len({p["intent"]["name"] for p in ours[0]} - {"nlu_fallback"}) >= 4  # the model really ran


def test_an_input_named_like_a_node_is_refused_as_rasa_does(agent):
    runner = agent.processor.graph_runner
    target = agent.processor.model_metadata.nlu_target
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={"__message__": target}, targets=[target])
