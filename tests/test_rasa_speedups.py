"""The Rasa speed-ups keep Rasa's behaviour: same answers, same errors."""
import jsonschema
import pytest

from connectors import rasa_speedups


@pytest.fixture(scope="module", autouse=True)
def applied():
    rasa_speedups.apply()


def test_event_types_still_resolve_by_name():
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("user") is UserUttered  # from the cache
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        Event.resolve_by_type("no-such-event")


def test_action_server_answers_are_still_checked():
    from rasa.core.actions.action import RemoteAction
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [], "responses": []})
    with pytest.raises(jsonschema.ValidationError):
        action._validate_action_result({"events": "not a list", "responses": []})
