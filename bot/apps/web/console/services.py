"""What the console's pages share: settings, the booking system, the stores,
and a way to run a blocking database call off the event loop."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable, Dict, Optional

from bot.booking import BookingSystem
from bot.console.accounts import Accounts
from bot.console.sign_in_limit import SignInLimit
from bot.foundation.aio import in_thread
from bot.foundation.settings import Settings
from bot.reminders.store import ReminderStore


@dataclass
class ConsoleServices:
    settings: Settings
    booking: BookingSystem
    accounts: Accounts
    reminders: ReminderStore
    # How a page's number reference ("appointment:ID", "conversation:KEY")
    # becomes the number it stands for, when staff reveal it: kind -> lookup.
    number_lookups: Dict[str, Callable[[str], Awaitable[Optional[str]]]] = field(default_factory=dict)
    sign_in_limit: SignInLimit = field(default_factory=SignInLimit)
    # What a page keeps between requests (a page's own key: its own dict).
    kept: Dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, booking: BookingSystem) -> "ConsoleServices":
        return cls(settings=settings, booking=booking, accounts=Accounts.from_settings(settings),
                   reminders=ReminderStore(settings.db_url),
                   sign_in_limit=SignInLimit(settings.console_sign_in_failures_per_client))

    # SQLAlchemy is synchronous: the pages' store calls go to a thread.
    run = staticmethod(in_thread)
