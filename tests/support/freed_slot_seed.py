"""A history of freed slots and their offers to the waiting list, every
figure of which is known (tests/integration/test_waiting_list_figures.py
says which), written through the offer store's own API with the frozen
clock at each moment, as the worker's offer round and the citizens' taps
would have written it.

The period is Monday 2 to Thursday 5 November 2026 (Madrid, UTC+1):

    S1  oac-centre, Thu 09:00. Freed Mon 10:00; W1 declines at 10:20, W2
        (offered at 10:21) takes it at 10:45: booked again in 45 min.
    S2  oac-centre, Thu 10:00. Freed Tue 09:00, offered to W3 and W4 at
        once; W4 takes it at 11:00 (120 min), W3's offer is gone.
    S3  oac-la-platja, Wed 12:00. Freed Mon 16:00; W5's offer went out and
        expired at 20:00, W6's could not be sent (failed); nobody left.
    S4  oac-la-platja, Wed 13:00. Freed Tue 08:00; W7's offer never went
        out (the assistant was down) and expired at 12:00; nobody left.
    S5  oac-la-platja, Thu 12:00. Freed Thu 10:00: too late to offer.

Outside the period, whenever freed: S6 (oac-centre, Friday 09:00, booked
again), S7 (oac-centre, Friday 00:30 in Madrid: still Thursday in UTC) and
S0 (oac-la-platja, Friday 30 October).

So: freed 5, offerable 4 (not S5), offered 3 (S1-S3), offers that went
out 5 (W1-W5), booked again 2 (median 82.5 min), re-used 2/5; not offered:
S4 nobody_left, S5 too_late.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Optional

from bot.offers import store as offers
from bot.offers.store import FreedSlot, Offer, OfferStore
from tests.support.touch_history_seed import CENTRE, MADRID, PLATJA

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4),
                                                date(2026, 11, 5), date(2026, 11, 6))
OFFER_VALID_FOR = timedelta(hours=4)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MADRID)


def _free(store: OfferStore, clock, name: str, office: str, starts_at: datetime, freed_at: datetime,
          state: str = offers.OPEN, reason: Optional[str] = None) -> FreedSlot:
    clock.set(freed_at)
    slot = store.record_freed(name, office, "padro", starts_at, state, reason)
    assert slot is not None
    return slot


def _offer(store: OfferStore, clock, slot: FreedSlot, person: str, at: datetime, outcome: str = offers.SENT) -> Offer:
    """An offer to `person` created at `at` and, as the round does then,
    claimed for sending: sent, failed (the assistant refused it) or pending
    again (the assistant was down)."""
    clock.set(at)
    offer = store.create_offer(slot.id, f"entry-{person}", f"+3460000{person[1:]:0>4}", f"Citizen {person}", "ca",
                               at + OFFER_VALID_FOR)
    assert store.move(offer.id, (offers.PENDING,), offers.SENDING)
    assert store.move(offer.id, (offers.SENDING,), outcome)
    return offer


def _take(store: OfferStore, clock, offer: Offer, at: datetime) -> None:
    clock.set(at)
    store.accept(offer.id, f"R-{offer.entry_id}")


def seed_freed_slots(store: OfferStore, clock) -> None:
    s1 = _free(store, clock, "S1", CENTRE, local(THURSDAY, 9), local(MONDAY, 10))
    w1 = _offer(store, clock, s1, "W1", local(MONDAY, 10))
    clock.set(local(MONDAY, 10, 20))
    assert store.move(w1.id, offers.ANSWERABLE, offers.DECLINED)
    w2 = _offer(store, clock, s1, "W2", local(MONDAY, 10, 21))
    _take(store, clock, w2, local(MONDAY, 10, 45))

    s3 = _free(store, clock, "S3", PLATJA, local(WEDNESDAY, 12), local(MONDAY, 16))
    _offer(store, clock, s3, "W5", local(MONDAY, 16))
    _offer(store, clock, s3, "W6", local(MONDAY, 16), offers.FAILED)
    clock.set(local(MONDAY, 20))
    assert store.expire_due() == 1
    clock.set(local(MONDAY, 20, 5))
    assert store.close_slot(s3.id, offers.UNCLAIMED, "nobody_left")

    s4 = _free(store, clock, "S4", PLATJA, local(WEDNESDAY, 13), local(TUESDAY, 8))
    _offer(store, clock, s4, "W7", local(TUESDAY, 8), offers.PENDING)
    s2 = _free(store, clock, "S2", CENTRE, local(THURSDAY, 10), local(TUESDAY, 9))
    _offer(store, clock, s2, "W3", local(TUESDAY, 9))
    w4 = _offer(store, clock, s2, "W4", local(TUESDAY, 9))
    _take(store, clock, w4, local(TUESDAY, 11))
    clock.set(local(TUESDAY, 12))
    assert store.expire_due() == 1  # W7, never sent
    clock.set(local(TUESDAY, 12, 5))
    assert store.close_slot(s4.id, offers.UNCLAIMED, "nobody_left")

    _free(store, clock, "S5", PLATJA, local(THURSDAY, 12), local(THURSDAY, 10), offers.NOT_OFFERED, "too_late")

    # Outside the period.
    s6 = _free(store, clock, "S6", CENTRE, local(FRIDAY, 9), local(WEDNESDAY, 9))
    _take(store, clock, _offer(store, clock, s6, "W9", local(WEDNESDAY, 9)), local(WEDNESDAY, 9, 30))
    _free(store, clock, "S7", CENTRE, local(FRIDAY, 0, 30), local(THURSDAY, 9), offers.NOT_OFFERED, "too_late")
    _free(store, clock, "S0", PLATJA, local(date(2026, 10, 30), 12), local(date(2026, 10, 29), 12),
          offers.NOT_OFFERED, "office_has_no_waiting_list")
