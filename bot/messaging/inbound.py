"""What a WhatsApp channel makes of a provider's webhook, whoever the
provider: a citizen's message, or a delivery status of a message Recorda
sent. Each channel in connectors/ parses its provider's JSON into these; the
shared channel core (connectors/whatsapp_channel.py) does the rest."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Optional

from bot.messaging import payloads

# What a citizen's message is, for the seal and the actions (actions/trust.py).
TEXT, BUTTON, MEDIA = "text", "button", "media"


@dataclass
class InboundMessage:
    sender: str                 # E.164
    text: str                   # what Rasa receives
    message_id: str             # the provider's id, unique per message
    kind: str                   # TEXT, BUTTON or MEDIA
    metadata: Dict[str, Any] = field(default_factory=dict)

    @property
    def parse_data(self) -> Optional[Dict[str, Any]]:
        """Buttons and media are payloads Recorda made: no NLU needed."""
        return payloads.parse_data(self.text) if self.kind in (BUTTON, MEDIA) else None


@dataclass
class Pricing:
    """What the provider says a delivered message costs: Meta's per-message
    pricing (since July 2025) names a category and whether it is billable."""
    billable: Optional[bool]
    category: Optional[str]       # e.g. "utility", "marketing", "service"
    model: Optional[str] = None   # e.g. "PMP" (per message), "CBP" (per conversation)


@dataclass
class StatusUpdate:
    message_id: str
    status: str                         # the provider's word: sent, delivered, read, failed...
    error_code: Optional[int]
    error_description: Optional[str]
    at: Optional[datetime]              # None: use the time it arrived
    pricing: Optional[Pricing] = None   # when the provider says
    recipient: Optional[str] = None     # E.164, when the provider names it
    # Whether the message was a template (a reminder or an offer is one);
    # None when the provider does not say.
    template: Optional[bool] = None
