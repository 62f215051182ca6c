"""Playing the citizens' phones in the end-to-end tests: what the WhatsApp
simulator of a running Stack received and sent, replies as a citizen, and
the form of the page an SMS link opens."""
from __future__ import annotations

import json
import re
from urllib.parse import quote

from bot.dev.sandbox.citizens import CITIZENS
from bot.foundation.phone import to_e164
from tests.support.http_helpers import call


def citizen(name: str) -> str:
    """A sandbox citizen's number in E.164."""
    return to_e164(next(c for c in CITIZENS if c.name == name).phone)


def thread(stack, msisdn):
    """Every message to and from that number, oldest first."""
    return call("GET", f"{stack.simulator_url}/sim/messages?msisdn={quote(msisdn)}")[1]


def templates_to(stack, msisdn, name_prefix: str):
    """The approved templates sent to that number whose name starts so."""
    return [m for m in thread(stack, msisdn) if m["type"] == "hsm"
            and m["content"]["hsm"]["templateName"].startswith(name_prefix)]


def reminder_of(stack, msisdn):
    """The one reminder (any touch or wording variant) sent to that number."""
    [message] = templates_to(stack, msisdn, "recorda_appointment_reminder")
    return message


def appointment_id_of(message) -> str:
    payload = message["content"]["hsm"]["components"][1]["parameters"][0]["payload"]
    return json.loads(payload[payload.index("{"):])["appointment_id"]


def reply(stack, msisdn, **body):
    """The citizen taps or types; the simulator's webhooks to Rasa must all be taken."""
    status, result = call("POST", f"{stack.simulator_url}/sim/reply", {"msisdn": msisdn, **body})
    assert status == 200, result
    assert result["webhook_statuses"] and all(s == 200 for s in result["webhook_statuses"]), result
    return result


def form_token(html: str) -> str:
    """The one-time form token of the citizen's page (an SMS link)."""
    return re.search(r'name="form" value="([0-9a-f]+)"', html).group(1)
