"""The waiting list's figures (bot/reports/figure_types.py, `WaitingList`
and `FreedSlotFigures`, where each word is defined): of the period's freed
slots (bot/offers), how many could be offered, how many were, how many
someone on the list booked again and how fast, and why the others were not
offered; overall and per office. Pure computation, no I/O: bot.reports.load
reads the slots and their offers.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

from bot.offers import store as offers
from bot.offers.store import FreedSlot, Offer
from bot.reports.figure_types import FreedSlotFigures, WaitingList, share

# Why a freed slot was not offered: the offer round's reasons (bot/offers),
# then those of a slot it left no reason on.
NO_WAITING_LIST, TOO_LATE, NOBODY_LEFT = "office_has_no_waiting_list", "too_late", "nobody_left"
NO_BOOKING_SUPPORT = "booking_system_has_no_waiting_list"
STILL_OPEN, OTHER = "still_open", "other"
NOT_OFFERED_REASONS = (NO_WAITING_LIST, NO_BOOKING_SUPPORT, TOO_LATE, NOBODY_LEFT, STILL_OPEN, OTHER)


@dataclass(frozen=True)
class FreedSlotHistory:
    """The period's freed slots and the offers made of each (by slot id),
    as bot.reports.load reads them; empty by default."""
    slots: Tuple[FreedSlot, ...] = ()
    offers: Mapping[int, Sequence[Offer]] = field(default_factory=dict)


def waiting_list_figures(history: FreedSlotHistory) -> WaitingList:
    offices = sorted({slot.office_id for slot in history.slots})
    return WaitingList(
        overall=freed_slot_figures(history.slots, history.offers),
        by_office={office: freed_slot_figures(history.slots, history.offers, office) for office in offices},
    )


def went_out(offer: Offer) -> bool:
    """Its send was recorded, or the person answered it. An offer closed
    while pending (gone, expired: the assistant was down) or failed never
    reached anyone, whatever its final state says."""
    return offer.sent_at is not None or offer.answered_at is not None


def freed_slot_figures(slots: Iterable[FreedSlot], offers_by_slot: Mapping[int, Sequence[Offer]],
                       office_id: Optional[str] = None) -> FreedSlotFigures:
    """The figures of these slots (already limited to the period), of one
    office or (None) of all."""
    chosen = [s for s in slots if office_id is None or s.office_id == office_id]
    sent = {s.id: [o for o in offers_by_slot.get(s.id, ()) if went_out(o)] for s in chosen}
    rebooked = [s for s in chosen if s.state == offers.REBOOKED]
    # Booked through an offer means offered, even if its send was never recorded.
    offered = {s.id for s in chosen if sent[s.id] or s.state == offers.REBOOKED}
    minutes = [(s.closed_at - s.freed_at).total_seconds() / 60 for s in rebooked if s.closed_at is not None]
    reasons: Dict[str, int] = {}
    for slot in chosen:
        if slot.id not in offered:
            reason = _not_offered_reason(slot)
            reasons[reason] = reasons.get(reason, 0) + 1
    return FreedSlotFigures(
        freed=len(chosen),
        offerable=sum(s.state != offers.NOT_OFFERED for s in chosen),
        offered=len(offered),
        offers_sent=sum(len(out) for out in sent.values()),
        rebooked=len(rebooked),
        median_minutes_to_rebook=statistics.median(minutes) if minutes else None,
        reused=share(len(rebooked), len(chosen)),
        rebooked_of_offered=share(len(rebooked), len(offered)),
        not_offered_reasons=dict(sorted(reasons.items())),
    )


def _not_offered_reason(slot: FreedSlot) -> str:
    if slot.state == offers.OPEN:
        return STILL_OPEN
    return slot.reason or OTHER
