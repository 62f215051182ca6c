"""What staff narrow the conversation list by, parsed from a query string
and checked, with the reason (a console text) when it cannot be used.

    NumberSearch   a number as staff type it, whole or its last digits
    parse_who      the keys a number search found, as its redirect wrote them
    Filters        the list's filters (a number search arrives as `who`)
    FilterError    a filter that cannot be used: `code` names the text
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, FrozenSet, Iterable, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from bot.console.conversation_keys import ConversationKeys
from bot.console.domain import DOMAIN_PATH, typed_intents
from bot.console.query_values import MAX_PAGE, DayOutOfRange, page_number, query_day
from bot.console.tracker import FALLBACK_INTENT
from bot.foundation.errors import CodedError
from bot.foundation.languages import LANGUAGES
from bot.foundation.phone import to_e164
from bot.reminders import states

DEFAULT_RANGE_DAYS = 7            # the list opens on the last week, today included
MAX_RANGE_DAYS = 92               # a longer range would read too much at once
MIN_SEARCH_DIGITS = 3
# A number search travels to the list as the keys of the senders it found
# (who=<key>.<key>..., never the number): 21 characters a sender. More than
# this many would make a URL longer than servers and proxies accept (8 KB is
# a common limit, Sanic's own included), and is no search for one citizen:
# staff are asked for more digits.
MAX_SEARCHED_SENDERS = 100
NO_MATCH = "none"                 # who= of a search that found no sender


class FilterError(CodedError):
    """A filter staff typed that cannot be used; `code` names the text that explains it."""


@dataclass(frozen=True)
class NumberSearch:
    """A number as staff type it: in full in any spelling ("612 34 56 78",
    "+34612345678", "0034 612...") or its last digits ("5678")."""
    text: str
    e164: Optional[str]
    digits: str

    @classmethod
    def parse(cls, text: str, region: str) -> "NumberSearch":
        digits = re.sub(r"[^0-9]", "", text)   # ASCII only: senders are E.164
        if len(digits) < MIN_SEARCH_DIGITS:
            raise FilterError("conversations_error_number",
                              f"Type at least {MIN_SEARCH_DIGITS} digits of the number")
        # A whole number in any spelling becomes E.164 (as Rasa's sender ids
        # are); anything shorter is matched as the number's last digits.
        return cls(text.strip(), to_e164(text, region), digits)

    def matches(self, sender: str) -> bool:
        if self.e164 and sender == self.e164:
            return True
        return re.sub(r"[^0-9]", "", sender).endswith(self.digits)


def parse_who(text: str) -> Optional[FrozenSet[str]]:
    """The conversation keys of a number search, as its redirect wrote them
    into the list's URL: None without a search, an empty set when it found
    no sender; FilterError for anything a search cannot have written."""
    if not text:
        return None
    if text == NO_MATCH:
        return frozenset()
    keys = text.split(".", MAX_SEARCHED_SENDERS)   # one more piece than allowed: too many
    if len(keys) > MAX_SEARCHED_SENDERS or not all(ConversationKeys.looks_valid(k) for k in keys):
        raise FilterError("conversations_error_who", "Not a number search's link: search again")
    return frozenset(keys)


def who_value(keys: Iterable[str]) -> str:
    """The who= of these keys (the inverse of parse_who)."""
    return ".".join(sorted(set(keys))) or NO_MATCH


@dataclass(frozen=True)
class Filters:
    first_day: date
    last_day: date
    office: str = ""
    state: str = ""
    intent: str = ""
    language: str = ""
    flagged: bool = False
    low_confidence: bool = False
    who: Optional[FrozenSet[str]] = None   # a number search's conversation keys
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str], today: date, region: str,
                   intents: Sequence[str]) -> "Filters":
        """The filters of a list request (query parameters as strings);
        FilterError for anything that cannot be used as typed."""
        def text(name: str) -> str:
            return str(query.get(name) or "").strip()

        last_day = _parse_day(text("to"), today)
        first_day = _parse_day(text("from"), last_day - timedelta(days=DEFAULT_RANGE_DAYS - 1))
        if first_day > last_day:
            raise FilterError("conversations_error_range_order", "The first day is after the last day")
        if (last_day - first_day).days + 1 > MAX_RANGE_DAYS:
            raise FilterError("conversations_error_range_long",
                              f"Choose at most {MAX_RANGE_DAYS} days at once")
        state, intent, language = text("state"), text("intent"), text("language")
        if state and state not in states.ALL_STATES:
            raise FilterError("conversations_error_filter", f"Unknown reminder state {state!r}")
        if intent and intent not in intents:
            raise FilterError("conversations_error_filter", f"Unknown intent {intent!r}")
        if language and language not in LANGUAGES:
            raise FilterError("conversations_error_filter", f"Unknown language {language!r}")
        page = page_number(text("page") or "1")
        if page is None:
            raise FilterError("conversations_error_filter", f"Not a page number 1-{MAX_PAGE}")
        # No number here: it would be in the URL (history, logs). A search
        # POSTs it and comes back with the keys it found.
        who = parse_who(text("who"))
        return cls(first_day, last_day, office=text("office")[:64], state=state, intent=intent,
                   language=language, flagged=_checked(query.get("flagged")),
                   low_confidence=_checked(query.get("low")), who=who, page=page)

    def start(self, tz: ZoneInfo) -> datetime:
        return datetime.combine(self.first_day, time(0), tz)

    def end(self, tz: ZoneInfo) -> datetime:
        """The first moment after the range (midnight after its last day)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), tz)


def _parse_day(text: str, default: date) -> date:
    try:
        day = query_day(text)
    except DayOutOfRange:
        raise FilterError("error_date_out_of_range", f"Too far off: {text!r}") from None
    except ValueError:
        raise FilterError("conversations_error_date", f"Not a date (YYYY-MM-DD): {text!r}") from None
    return default if day is None else day


def _checked(value: Any) -> bool:
    return str(value or "").lower() in ("1", "on", "true", "yes")


@functools.lru_cache(maxsize=4)
def domain_intents(domain_path: str = str(DOMAIN_PATH)) -> Tuple[str, ...]:
    """The intents a citizen's message can be predicted as, which the intent
    filter may name: domain.yml's, without Recorda's own EXTERNAL_ ones,
    plus the NLU fallback."""
    return tuple(typed_intents(Path(domain_path))) + (FALLBACK_INTENT,)
