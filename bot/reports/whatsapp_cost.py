"""What the reminders cost on WhatsApp, per local month of sending. A
delivered reminder is one conversation. When the provider priced its message
in a status (Meta's `pricing`: billable, category), it costs its category's
price if billable and nothing otherwise; when no status did (MessageBird), it
costs the price per conversation, after the month's free tier.
Pure computation, no I/O."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, List, Mapping, Sequence, Tuple

from bot.foundation.settings import Settings
from bot.reports.reminder_history import ReminderFacts


@dataclass(frozen=True)
class Pricing:
    """WhatsApp's price of a delivered reminder (EUR) and the conversations
    free each month; `category_prices`: EUR per billable message of each
    category the provider names (a category without one costs
    price_per_conversation). The free tier is for unpriced messages only."""
    price_per_conversation: float = 0.04
    free_per_month: int = 0
    category_prices: Tuple[Tuple[str, float], ...] = ()

    def price_of(self, category: str) -> float:
        return dict(self.category_prices).get(category, self.price_per_conversation)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Pricing":
        """RECORDA_WHATSAPP_PRICE, RECORDA_FREE_CONVERSATIONS and
        RECORDA_WHATSAPP_CATEGORY_PRICES (0.04 EUR, none free, none by default)."""
        return cls(settings.whatsapp_price, settings.free_conversations_per_month,
                   settings.whatsapp_category_prices)


@dataclass(frozen=True)
class MonthCost:
    """month: YYYY-MM, the local month of sending.
    conversations: delivered reminders sent that month.
    billable: those priced by the provider as billable, plus the unpriced
    ones beyond the month's free tier.
    cost_eur: the billable priced ones at their category's price, plus the
    billable unpriced ones at the price per conversation, rounded to 0.0001 EUR."""
    month: str
    conversations: int
    billable: int
    cost_eur: float


@dataclass(frozen=True)
class CategoryCost:
    """category: the provider's pricing category ("utility", "marketing"...).
    messages: delivered reminders the provider priced in it.
    billable: of those, billable (not billable: free, e.g. within the
    customer-service window).
    price: EUR per billable message; cost_eur: billable x price."""
    category: str
    messages: int
    billable: int
    price: float
    cost_eur: float


@dataclass(frozen=True)
class Conversations:
    """WhatsApp charges per delivered template (since July 2025), so a
    conversation is a delivered reminder; the citizen's answer and our replies
    add nothing, even after the window has closed.
    by_month: every month with a sent reminder, in order.
    total_conversations, total_cost_eur: sums over the months.
    by_category: the provider-priced reminders by category (empty when no
    status carried pricing)."""
    price_per_conversation: float
    free_per_month: int
    by_month: List[MonthCost]
    total_conversations: int
    total_cost_eur: float
    by_category: List[CategoryCost]


def conversation_costs(sent: Sequence[ReminderFacts], pricing: Pricing) -> Conversations:
    """The conversations and their cost, from the facts of the sent reminders."""
    # Every sent reminder has its sending time (facts_of sets it with sent_at).
    months = [(_month(f.sent_local), f.delivered, f.pricing) for f in sent if f.sent_local is not None]
    delivered = Counter(month for month, was_delivered, _ in months if was_delivered)
    priced = [(month, _category(p), _billable(p)) for month, was_delivered, p in months
              if was_delivered and p is not None]
    by_month = [_month_cost(month, delivered[month], [(c, b) for m, c, b in priced if m == month], pricing)
                for month in sorted({m for m, _, _ in months})]
    return Conversations(
        price_per_conversation=pricing.price_per_conversation,
        free_per_month=pricing.free_per_month,
        by_month=by_month,
        total_conversations=sum(m.conversations for m in by_month),
        total_cost_eur=round(sum(m.cost_eur for m in by_month), 4),
        by_category=_by_category([(c, b) for _, c, b in priced], pricing),
    )


def _month(local: datetime) -> str:
    # YYYY-MM as strftime("%Y-%m") writes it, at a tenth of the cost.
    return f"{local.year:04d}-{local.month:02d}"


def _category(pricing: Mapping[str, Any]) -> str:
    return str(pricing.get("category") or "unknown").lower()


def _billable(pricing: Mapping[str, Any]) -> bool:
    # Free only when the provider says so: an unclear answer is not a saving.
    return pricing.get("billable") is not False


def _month_cost(month: str, conversations: int, priced: List[Tuple[str, bool]],
                pricing: Pricing) -> MonthCost:
    # The free tier is for the conversations the provider did not price.
    beyond_free = max(0, conversations - len(priced) - pricing.free_per_month)
    billable = [category for category, is_billable in priced if is_billable]
    cost = beyond_free * pricing.price_per_conversation + sum(pricing.price_of(c) for c in billable)
    return MonthCost(month, conversations, beyond_free + len(billable), round(cost, 4))


def _by_category(priced: List[Tuple[str, bool]], pricing: Pricing) -> List[CategoryCost]:
    messages = Counter(category for category, _ in priced)
    billable = Counter(category for category, is_billable in priced if is_billable)
    return [CategoryCost(c, messages[c], billable[c], pricing.price_of(c),
                         round(billable[c] * pricing.price_of(c), 4)) for c in sorted(messages)]

