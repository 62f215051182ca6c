"""How simulated people on a waiting list answer the offer of a freed slot
(the `recorda_slot_offer` template, whatsapp_templates/slot_offer.yml).

People waiting for an appointment answer fast, since the first tap gets
the slot: about 55 % of those who get an offer tap [Take it], most within a
few minutes; 15 % tap [No, thanks], a little later; the other 30 % never
answer (busy, already found another way). The share of each answer is a
setting of the behaviour profile (`offer_shares`, merged into these
defaults); the answer is drawn per number, the delays per offer, both
reproducibly from the profile's seed (bot.dev.sandbox.citizen_behaviour).
"""
from __future__ import annotations

import random
from typing import Dict, Optional

from bot.messaging import payloads

TAKE, DECLINE, NO_ANSWER = "take", "decline", "no_answer"
OFFER_ANSWERS = (TAKE, DECLINE, NO_ANSWER)
DEFAULT_OFFER_SHARES: Dict[str, float] = {TAKE: 0.55, DECLINE: 0.15, NO_ANSWER: 0.30}

# The intent of the button each answer taps (bot.messaging.payloads), and the
# button's place in the template when the sender gave no payloads.
OFFER_INTENTS: Dict[str, str] = {TAKE: "take_offer", DECLINE: "decline_offer"}
TEMPLATE_INDEX: Dict[str, int] = {TAKE: 0, DECLINE: 1}

# From sending to a tap: a glance at the phone, then minutes. Declining is
# less urgent than taking. The offer is valid for 45 min (offices.yml), so
# a rare late taker finds the slot gone, as in real life.
FIRST_LOOK_S = 20
MEAN_S: Dict[str, float] = {TAKE: 5 * 60, DECLINE: 12 * 60}
LONGEST_S = 3 * 3600


def is_offer(message: dict) -> bool:
    """A template whose quick replies take or decline an offer."""
    if message["type"] != "hsm":
        return False
    return any(_intent(parameter.get("payload")) == OFFER_INTENTS[TAKE]
               for component in message["content"]["hsm"].get("components", [])
               if component.get("type") == "button"
               for parameter in component.get("parameters", []))


def _intent(payload: Optional[str]) -> Optional[str]:
    parsed = payloads.parse(payload)
    return parsed.intent if parsed else None


def offer_answer_delay(answer: str, rng: random.Random) -> float:
    """Seconds from sending the offer to the tap that answers it."""
    return min(FIRST_LOOK_S + rng.expovariate(1 / MEAN_S[answer]), LONGEST_S)
