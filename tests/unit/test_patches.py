"""Recorda's patches to Rasa: they keep Rasa's behaviour (same answers, same
errors) and are applied only to the Rasa version they were written for."""
import logging

import jsonschema
import pytest

from bot import patches
from bot.patches import rasa_speedups
from tests.support import ROOT


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


def test_the_patches_are_for_the_rasa_that_requirements_pin():
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert patches.PINNED_RASA == pins["rasa"]
    assert patches.installed_rasa() == patches.PINNED_RASA


def test_another_rasa_version_gets_no_patch_and_a_warning(monkeypatch, caplog):
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event
    monkeypatch.setattr(patches, "installed_rasa", lambda: "3.7.0")
    monkeypatch.setattr(patches, "_rasa_patched", False)
    monkeypatch.setattr(rasa_speedups, "_applied", False)
    validate, resolve = RemoteAction._validate_action_result, Event.__dict__["resolve_by_type"]
    with caplog.at_level(logging.WARNING, logger="bot.patches"):
        assert patches.apply_to_rasa() is False
    assert "Rasa 3.7.0 is installed" in caplog.text and "none applied" in caplog.text
    assert RemoteAction._validate_action_result is validate
    assert Event.__dict__["resolve_by_type"] is resolve
    assert not patches.rasa_patched()


def test_the_channel_warns_when_rasa_started_unpatched(monkeypatch, caplog):
    from connectors.messagebird import MessageBirdInput
    monkeypatch.setattr(patches, "_rasa_patched", False)
    credentials = {"access_key": "k", "channel_id": "c", "signing_key": "s" * 20}
    with caplog.at_level(logging.WARNING, logger="connectors.messagebird"):
        channel = MessageBirdInput.from_credentials(credentials)
        assert "python -m bot.apps.rasa_server" not in caplog.text  # the status receiver builds it too
        channel.blueprint(lambda message: None)  # only Rasa mounts it
    assert "python -m bot.apps.rasa_server" in caplog.text


async def test_the_rasa_server_freezes_what_it_holds_once_the_model_is_loaded():
    import gc

    from bot.patches import gc_freeze

    async def load(*args, **kwargs):
        return ("agent", args, kwargs)

    try:
        assert await gc_freeze._frozen_after(load)(1, app="x") == ("agent", (1,), {"app": "x"})
        assert gc.get_freeze_count() > 1000  # this test process's modules, at least
    finally:
        gc.unfreeze()
    # The server's loader is the one wrapped: Rasa calls it in each worker once the model is in.
    import rasa.core.run
    assert gc_freeze.apply()
    assert rasa.core.run.load_agent_on_start.__wrapped__ is gc_freeze.ORIGINAL["load_agent_on_start"]
