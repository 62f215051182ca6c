"""MessageBird Conversations webhooks as typed models, and the bounded JSON
reading that comes before them.

pydantic 1 (the major version Rasa 3.6 ships). Only the fields Recorda reads
are declared, each with its exact JSON type: no coercion of numbers to text
or of lists to objects. Fields MessageBird adds are ignored. Anything else
raises MalformedWebhook, which the connector answers with 400.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Type, TypeVar, Union

from pydantic import BaseModel, Extra, Field, StrictInt, ValidationError
from pydantic.types import ConstrainedStr

# Containers inside containers; MessageBird's deepest field is at 5.
MAX_DEPTH = 32
# Columns the ids and statuses end up in (reminders, unmatched_statuses).
MAX_ID = 64
MAX_STATUS = 32
MAX_KIND = 64
# Error codes are stored in an INTEGER column.
MAX_ERROR_CODE = 2**31 - 1


class MalformedWebhook(ValueError):
    """The webhook body is not a MessageBird event Recorda can read."""


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


class MessageId(Text):
    min_length = 1
    max_length = MAX_ID

    @classmethod
    def __get_validators__(cls):
        yield cls._from_number
        yield from super().__get_validators__()

    @staticmethod
    def _from_number(value: Any) -> Any:
        # Ids are strings at MessageBird; an integer one is read as its digits.
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**MAX_ID:
            return str(value)
        return value


class ShortText(Text):
    max_length = MAX_ID


class Status(Text):
    max_length = MAX_STATUS


class Kind(Text):
    max_length = MAX_KIND


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


class _Object(BaseModel):
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


# --- the event ------------------------------------------------------------------
class ErrorInfo(_Object):
    code: Optional[Union[StrictInt, ShortText]] = None
    description: Optional[Text] = None
    message: Optional[Text] = None

    @property
    def number(self) -> Optional[int]:
        """The code as a number; None when it is not one or out of range."""
        code = self.code
        if isinstance(code, str):
            code = int(code) if code.isdigit() and code.isascii() else None
        return code if code is not None and 0 <= code <= MAX_ERROR_CODE else None

    @property
    def text(self) -> Optional[str]:
        return self.description or self.message


class ReplyTo(_Object):
    id: Optional[Text] = None


class Message(_Object):
    id: MessageId
    direction: Optional[ShortText] = None
    type: Optional[Kind] = None
    status: Optional[Status] = None
    sender: Optional[Union[StrictInt, ShortText]] = Field(None, alias="from")
    content: Optional[JsonObject] = None
    reply_to: Optional[ReplyTo] = Field(None, alias="replyTo")
    error: Optional[ErrorInfo] = None
    updated: Optional[ShortText] = Field(None, alias="updatedDatetime")

    @property
    def updated_at(self) -> Optional[datetime]:
        """updatedDatetime when it is a plausible RFC 3339 time, else None (now)."""
        try:
            at = datetime.fromisoformat(self.updated.replace("Z", "+00:00")) if self.updated else None
            utc = at.astimezone(timezone.utc) if at and at.tzinfo else at
        except (ValueError, OverflowError):
            return None
        return at if utc and 2000 <= utc.year <= 2999 else None


class Contact(_Object):
    msisdn: Optional[Union[StrictInt, ShortText]] = None


class Event(_Object):
    type: Optional[ShortText] = None
    message: Message
    contact: Optional[Contact] = None


# --- contents of inbound messages -------------------------------------------------
class TextContent(_Object):
    text: Text


class Reply(_Object):
    id: Optional[Text] = None
    text: Optional[Text] = None
    title: Optional[Text] = None


class Interactive(_Object):
    type: Optional[Kind] = None
    reply: Optional[Reply] = None
    button_reply: Optional[Reply] = None
    list_reply: Optional[Reply] = None


class InteractiveContent(_Object):
    interactive: Interactive


class QuickReply(_Object):
    payload: Optional[Text] = None
    text: Optional[Text] = None


class ButtonContent(_Object):
    button: QuickReply


Model = TypeVar("Model", bound=_Object)


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


def parse_event(body: Any) -> Event:
    return parse(Event, body)
