"""What the reminders cost on WhatsApp: one conversation per delivered
reminder, priced per local month of sending after the month's free tier.
Pure computation, no I/O."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import List, Sequence

from bot.reports.reminder_history import ReminderFacts


@dataclass(frozen=True)
class Pricing:
    """WhatsApp's price of a delivered reminder (EUR) and the conversations
    free each month."""
    price_per_conversation: float = 0.04
    free_per_month: int = 0


@dataclass(frozen=True)
class MonthCost:
    """month: YYYY-MM, the local month of sending.
    conversations: delivered reminders sent that month.
    billable: conversations beyond the month's free tier.
    cost_eur: billable x price per conversation, rounded to 0.0001 EUR."""
    month: str
    conversations: int
    billable: int
    cost_eur: float


@dataclass(frozen=True)
class Conversations:
    """WhatsApp charges per delivered template (since July 2025), so a
    conversation is a delivered reminder; the citizen's answer and our replies
    add nothing, even after the window has closed.
    by_month: every month with a sent reminder, in order.
    total_conversations, total_cost_eur: sums over the months."""
    price_per_conversation: float
    free_per_month: int
    by_month: List[MonthCost]
    total_conversations: int
    total_cost_eur: float


def conversation_costs(sent: Sequence[ReminderFacts], pricing: Pricing) -> Conversations:
    """The conversations and their cost, from the facts of the sent reminders."""
    # Every sent reminder has its sending time (facts_of sets it with sent_at).
    months = [(_month(f.sent_local), f.delivered) for f in sent if f.sent_local is not None]
    delivered = Counter(month for month, was_delivered in months if was_delivered)
    by_month = [_month_cost(month, delivered[month], pricing) for month in sorted({m for m, _ in months})]
    return Conversations(
        price_per_conversation=pricing.price_per_conversation,
        free_per_month=pricing.free_per_month,
        by_month=by_month,
        total_conversations=sum(m.conversations for m in by_month),
        total_cost_eur=round(sum(m.cost_eur for m in by_month), 4),
    )


def _month(local: datetime) -> str:
    # YYYY-MM as strftime("%Y-%m") writes it, at a tenth of the cost.
    return f"{local.year:04d}-{local.month:02d}"


def _month_cost(month: str, conversations: int, pricing: Pricing) -> MonthCost:
    billable = max(0, conversations - pricing.free_per_month)
    return MonthCost(month, conversations, billable, round(billable * pricing.price_per_conversation, 4))
