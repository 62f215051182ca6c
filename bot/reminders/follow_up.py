"""The follow-up list: for a service day, the appointments whose reminder did
not reach the citizen or got no answer, so staff can call them.

Categories: the reminder failed (with its reason), expired unread, expired
read but unanswered; optionally (`include_open`) reminders whose window is
still open with no answer yet, which is what staff see the afternoon before.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Dict, Iterable, List, Optional

from bot.booking import Appointment, BookingSystem
from bot.foundation.aio import in_thread
from bot.reminders import states
from bot.reminders.records import Reminder
from bot.reminders.store import ReminderStore

FAILED = "failed"
EXPIRED_UNREAD = "expired_unread"
EXPIRED_READ = "expired_read"
OPEN_UNREAD = "no_answer_yet_unread"
OPEN_READ = "no_answer_yet_read"

CATEGORY_LABELS = {
    FAILED: "reminder failed",
    EXPIRED_UNREAD: "expired, never read",
    EXPIRED_READ: "read, never answered",
    OPEN_UNREAD: "no answer yet (not read)",
    OPEN_READ: "no answer yet (read)",
}


@dataclass(frozen=True)
class FollowUpItem:
    appointment: Appointment
    reminder: Reminder
    category: str

    @property
    def reason(self) -> Optional[str]:
        return self.reminder.reason if self.category == FAILED else None

    @property
    def starts_at(self) -> datetime:
        return self.appointment.starts_at


def category_of(reminder: Reminder, include_open: bool) -> Optional[str]:
    if reminder.state == states.FAILED:
        return FAILED
    if reminder.state == states.EXPIRED:
        return EXPIRED_READ if reminder.was_read else EXPIRED_UNREAD
    if include_open and reminder.state in (states.SENT, states.DELIVERED, states.READ):
        return OPEN_READ if reminder.was_read else OPEN_UNREAD
    return None


def build(appointments: Iterable[Appointment], reminders: Dict[str, Reminder],
          include_open: bool = False) -> List[FollowUpItem]:
    """Active appointments whose reminder needs a person's attention."""
    items = []
    for appointment in appointments:
        reminder = reminders.get(appointment.id)
        if not appointment.is_active or reminder is None:
            continue
        category = category_of(reminder, include_open)
        if category:
            items.append(FollowUpItem(appointment, reminder, category))
    return sorted(items, key=lambda i: (i.appointment.office_id, i.starts_at))


async def follow_up_list(store: ReminderStore, booking: BookingSystem, day: date,
                         office_ids: Optional[Iterable[str]] = None,
                         include_open: bool = False) -> List[FollowUpItem]:
    from bot.reminders.job import gather_appointments
    appointments = await gather_appointments(booking, day, office_ids)
    rows = await in_thread(store.for_day, day)
    return build(appointments, {r.appointment_id: r for r in rows}, include_open)
