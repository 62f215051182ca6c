"""Performance fixes for Rasa 3.6.21, applied at the Rasa server's start-up
(bot.patches.apply_to_rasa, from python -m bot.apps.rasa_server). Each
replaces one internal function by an equivalent that caches what does not
change; if Rasa no longer has that function, it is left alone.

1. Action server answers.
Rasa checks every action server answer with `jsonschema.validate(answer,
schema)`. That call first validates the *schema itself* against the JSON
Schema meta-schema and builds a new validator, every time: with jsonschema
4.17 (Draft 2020-12, `$dynamicRef`) ~23 ms of CPU, ~30 ms with the check,
against ~1 ms for the answer itself. Rasa's server runs on one event loop, so
every custom action call (each reminder, each confirm/cancel) cost ~30 ms of
the only core Rasa uses; measured with bench/reminder_dispatch (cProfile of
the Rasa process: 29 of 43 s of request handling).

The replacement validates against the same schema with a validator built
once (the schema is checked once, at first use) and raises the same error,
with the same message, as Rasa's own code. Nothing else changes.

Even so, the schema's events are a `oneOf` of 23 event schemas, which
jsonschema checks by validating each event against every one of them and
building an error for each that fails: 14 % of the Rasa server's CPU in a
dispatch on the production profile (py-spy, --gil). Each of the 23 names its
event with a different `const`, so an event is valid exactly when it is
valid against the common part and the one schema of its name. That is
checked first; only an answer that fails it goes through the full
validator, which then raises Rasa's own error.
"""
from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)

_applied = False


@functools.cache
def _validator_for(action_class: type):
    """The validator of an action class's (constant) response schema."""
    from jsonschema.validators import validator_for

    schema = action_class.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


class _EventsByName:
    """The action answer's schema, its events checked by their name's schema."""

    def __init__(self, schema: dict):
        from jsonschema.validators import validator_for

        properties = dict(schema["properties"])
        events = properties["events"]
        event = events["items"]
        kinds = event["oneOf"]
        names = [kind["properties"]["event"]["const"] for kind in kinds]
        if len(set(names)) != len(names):
            raise ValueError("event schemas without distinct names")
        cls = validator_for(schema)
        self.outer = cls({**schema, "properties": {**properties, "events": {"type": "array"}}})
        self.common = cls({key: value for key, value in event.items() if key != "oneOf"})
        self.by_name = {name: cls(kind) for name, kind in zip(names, kinds)}

    def is_valid(self, result) -> bool:
        if not self.outer.is_valid(result):
            return False
        for event in result.get("events", []) if isinstance(result, dict) else []:
            kind = self.by_name.get(event.get("event")) if isinstance(event, dict) else None
            if kind is None or not self.common.is_valid(event) or not kind.is_valid(event):
                return False
        return True


@functools.cache
def _events_by_name(action_class: type):
    """The fast check of an action class's answers; None when its schema is
    not the shape it relies on (then the full validator alone is used)."""
    try:
        return _EventsByName(action_class.action_response_format_spec())
    except (KeyError, TypeError, ValueError):
        log.warning("Unexpected action answer schema; answers get the full validation only")
        return None


def _cached_validate_action_result(self, result) -> bool:
    """RemoteAction._validate_action_result, with the validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    fast = _events_by_name(type(self))
    if fast is not None and fast.is_valid(result):
        return True
    validator = _validator_for(type(self))
    error = exceptions.best_match(validator.iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


# 2. Event types. Rasa rebuilds the tracker from the tracker store on every
# message and, for each stored event, finds its class by walking every
# subclass of Event (`Event.resolve_by_type`): 16 % of Rasa's CPU per message
# in bench/button_latency. A type name always names the same class, so the
# classes found are kept by name.
def _cached_event_types(original):
    found = {}

    def resolve_by_type(type_name, default=None):
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls
    return staticmethod(resolve_by_type)


def apply() -> bool:
    """Installs the fixes once; False when Rasa lacks what they replace (then
    nothing is changed)."""
    global _applied
    if _applied:
        return True
    from rasa.core.actions.action import RemoteAction

    if not callable(getattr(RemoteAction, "_validate_action_result", None)):
        log.warning("Rasa has no RemoteAction._validate_action_result; speed-up not applied")
        return False
    RemoteAction._validate_action_result = _cached_validate_action_result
    from rasa.shared.core.events import Event
    if callable(getattr(Event, "resolve_by_type", None)):
        Event.resolve_by_type = _cached_event_types(Event.resolve_by_type)
    _applied = True
    return True
