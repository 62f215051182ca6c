"""MessageBird Conversations webhooks as typed models (the bounded JSON
reading before them and the strict field types are the same for every
provider: connectors/webhook_json.py).

pydantic 1 (the major version Rasa 3.6 ships). Only the fields Recorda reads
are declared, each with its exact JSON type: no coercion of numbers to text
or of lists to objects. Fields MessageBird adds are ignored. Anything else
raises MalformedWebhook, which the connector answers with 400.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional, Union

from pydantic import Field, StrictInt

from connectors.webhook_json import JsonObject, StrictObject, Text, parse

# Columns the ids and statuses end up in (reminders, unmatched_statuses).
MAX_ID = 64
MAX_STATUS = 32
MAX_KIND = 64
# Error codes are stored in an INTEGER column.
MAX_ERROR_CODE = 2**31 - 1


# --- field types ----------------------------------------------------------------
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


# --- the event ------------------------------------------------------------------
class ErrorInfo(StrictObject):
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


class ReplyTo(StrictObject):
    id: Optional[Text] = None


class Message(StrictObject):
    id: MessageId
    direction: Optional[ShortText] = None
    type: Optional[Kind] = None
    status: Optional[Status] = None
    sender: Optional[Union[StrictInt, ShortText]] = Field(None, alias="from")
    recipient: Optional[Union[StrictInt, ShortText]] = Field(None, alias="to")
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


class Contact(StrictObject):
    msisdn: Optional[Union[StrictInt, ShortText]] = None


class Event(StrictObject):
    type: Optional[ShortText] = None
    message: Message
    contact: Optional[Contact] = None


# --- contents of inbound messages -------------------------------------------------
class TextContent(StrictObject):
    text: Text


class Reply(StrictObject):
    id: Optional[Text] = None
    text: Optional[Text] = None
    title: Optional[Text] = None


class Interactive(StrictObject):
    type: Optional[Kind] = None
    reply: Optional[Reply] = None
    button_reply: Optional[Reply] = None
    list_reply: Optional[Reply] = None


class InteractiveContent(StrictObject):
    interactive: Interactive


class QuickReply(StrictObject):
    payload: Optional[Text] = None
    text: Optional[Text] = None


class ButtonContent(StrictObject):
    button: QuickReply


def parse_event(body: Any) -> Event:
    return parse(Event, body)
