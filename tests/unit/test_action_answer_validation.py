"""The action server's answers are judged exactly as Rasa judges them, with
the faster check of bot/patches/rasa_speedups.py: every answer Rasa's own
`jsonschema.validate` accepts is accepted, every one it refuses is refused
with the same error message."""
from __future__ import annotations

import copy

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

from bot.patches import rasa_speedups

VALID = [
    {},
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "appointment_id", "value": "VLD-1", "timestamp": None}],
     "responses": [{"text": "Hola", "buttons": [{"title": "Sí", "payload": "/affirm"}]}]},
    {"events": [{"event": "slot", "name": "open_question", "value": None},
                {"event": "bot", "text": "Fet!", "data": {"custom": {"x": 1}}, "metadata": {}},
                {"event": "followup", "name": "action_listen"},
                {"event": "action", "name": "utter_greet", "policy": None, "confidence": 1.0},
                {"event": "session_started"},
                {"event": "reset_slots"},
                {"event": "user", "text": "hola", "parse_data": {"intent": {"name": "greet", "confidence": 1}},
                 "input_channel": "messagebird"}]},
    {"events": [{"event": "active_loop", "name": None}, {"event": "restart", "timestamp": 1.5}]},
    # Rasa's schema lets these through too; so must the fast check.
    {"events": [{"event": "bot", "text": 5}, {"event": "followup"}]},
]

INVALID = [
    [],                                                       # not an object
    {"events": {"event": "slot"}},                            # events not a list
    {"events": ["slot"]},                                     # an event not an object
    {"events": [{"name": "x"}]},                              # no event name
    {"events": [{"event": "teleport"}]},                      # no such event
    {"events": [{"event": "slot", "value": 1}]},              # a slot without its name
    {"events": [{"event": "slot", "name": 3, "value": 1}]},   # a name that is no string
    {"events": [{"event": "slot", "name": "a", "value": 1, "timestamp": "now"}]},
    {"events": [{"event": "slot", "name": "a", "value": 1, "metadata": []}]},
    {"events": [{"event": "slot", "name": "a", "value": 1}, {"event": "teleport"}]},  # the second one
    {"responses": {"text": "hola"}},                          # responses not a list
    {"responses": ["hola"]},
]


def rasas_own(result) -> str:
    """What Rasa 3.6's own check says: "" when valid, else the error's message."""
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
        return ""
    except jsonschema.ValidationError as error:
        return error.message


def patched(result) -> str:
    try:
        assert rasa_speedups._cached_validate_action_result(RemoteAction("a", None), copy.deepcopy(result)) is True
        return ""
    except jsonschema.ValidationError as error:
        return error.message.split(". Failed to validate Action server response")[0]


@pytest.mark.parametrize("result", VALID)
def test_answers_rasa_accepts_are_accepted_by_the_fast_check(result):
    assert rasas_own(result) == ""
    assert rasa_speedups._events_by_name(RemoteAction).is_valid(result)
    assert patched(result) == ""


@pytest.mark.parametrize("result", INVALID)
def test_answers_rasa_refuses_are_refused_with_its_own_message(result):
    message = rasas_own(result)
    assert message
    assert not rasa_speedups._events_by_name(RemoteAction).is_valid(result)
    assert patched(result) == message
