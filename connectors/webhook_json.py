"""Reading a provider's webhook body, whoever the provider: bounded JSON, the
strict field types its pydantic models are made of, and the one error a body
Recorda cannot read raises (the channel answers it with 400).

pydantic 1 (the major version Rasa 3.6 ships). Models declare only the fields
Recorda reads, each with its exact JSON type: no coercion of numbers to text
or of lists to objects; fields the provider adds are ignored.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Type, TypeVar

from pydantic import BaseModel, Extra, ValidationError
from pydantic.types import ConstrainedStr

# Containers inside containers; providers' deepest fields are at 5 to 8.
MAX_DEPTH = 32


class MalformedWebhook(ValueError):
    """The webhook body is not an event of the provider Recorda can read."""


# --- JSON ---------------------------------------------------------------------
def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The body as JSON, refusing non-UTF-8, NaN/Infinity and nesting deeper
    than `max_depth` (checked without recursion)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        # The C decoder gives up near the interpreter's recursion limit.
        raise MalformedWebhook(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise MalformedWebhook(f"invalid JSON: {str(exc)[:120]}") from None
    if _deeper_than(value, max_depth):
        raise MalformedWebhook(f"JSON nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


# --- field types ----------------------------------------------------------------
class Text(ConstrainedStr):
    """A JSON string only, storable anywhere: no NUL, no lone surrogates."""
    strict = True

    @classmethod
    def validate(cls, value: str) -> str:
        value = super().validate(value)
        if "\x00" in value:
            raise ValueError("text contains NUL")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text is not valid Unicode") from None
        return value


class JsonObject(dict):
    """A JSON object, never a list of pairs made into one."""

    @classmethod
    def __get_validators__(cls):
        yield cls._check

    @staticmethod
    def _check(value: Any) -> Dict[str, Any]:
        if not isinstance(value, dict):
            raise TypeError("must be an object")
        return value


class StrictObject(BaseModel):
    """A JSON object with these fields; others ignored."""

    class Config:
        extra = Extra.ignore
        allow_mutation = False

    @classmethod
    def validate(cls, value: Any):
        # pydantic 1 would otherwise accept e.g. [["id", "x"]] as {"id": "x"}.
        if not isinstance(value, (dict, cls)):
            raise TypeError(f"{cls.__name__} must be an object")
        return super().validate(value)


Model = TypeVar("Model", bound=StrictObject)


def _describe(exc: ValidationError, where: str) -> str:
    error = exc.errors()[0]
    loc = ".".join(str(part) for part in (where, *error["loc"]) if part != "")
    return f"{loc}: {error['msg']}"


def parse(model: Type[Model], value: Any, where: str = "") -> Model:
    """`value` as `model`, or MalformedWebhook naming the first wrong field."""
    try:
        return model.validate(value)
    except ValidationError as exc:
        raise MalformedWebhook(_describe(exc, where)) from None
    except (TypeError, ValueError) as exc:
        raise MalformedWebhook(f"{where or 'body'}: {exc}") from None
