"""The simulator's SMS side: the subset of the MessageBird SMS API that the
SMS fallback uses, `POST /messages` and `GET /messages/{id}`, with the same
`AccessKey` authorisation and error envelope as its WhatsApp side. Every
SMS is kept per number, so the phone page shows it among the WhatsApp
messages (`GET /sim/messages?msisdn=` lists both; an SMS has type "sms").
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Dict, List, Optional

from sanic import response

import bot.foundation.clock
from bot.dev.sandbox.provider_api import ApiError, authorize, field, invalid, json_body, text
from bot.foundation.phone import to_e164
from bot.messaging.sms_text import is_gsm7, sms_parts

REGION = "ES"
MAX_BODY = 1377          # nine concatenated GSM parts, the API's limit
MAX_RECIPIENTS = 50
_ORIGINATOR = re.compile(r"^(\+?\d{1,16}|[A-Za-z0-9 ]{1,11})$")


def _api_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S+00:00")  # as the SMS API writes times


def _phone_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as the simulator's WhatsApp side does


class SmsCenter:
    """Every SMS sent, as the API answered it, in the order they came."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.messages: Dict[str, dict] = {}
        self._sent_at: Dict[str, datetime] = {}

    def send(self, originator: str, body: str, recipients: List[str],
             reference: Optional[str], validity: Optional[int], base_url: str) -> dict:
        at = bot.foundation.clock.now(timezone.utc)
        now = _api_time(at)
        message_id = uuid.uuid4().hex
        message = {
            "id": message_id, "href": f"{base_url}/messages/{message_id}", "direction": "mt",
            "type": "sms", "originator": originator, "body": body, "reference": reference,
            "validity": validity, "gateway": 10, "typeDetails": {},
            "datacoding": "plain" if is_gsm7(body) else "unicode", "mclass": 1,
            "scheduledDatetime": None, "createdDatetime": now,
            "recipients": {"totalCount": len(recipients), "totalSentCount": len(recipients),
                           "totalDeliveredCount": 0, "totalDeliveryFailedCount": 0,
                           "items": [{"recipient": int(r.lstrip("+")), "status": "sent",
                                      "statusDatetime": now} for r in recipients]},
        }
        self.messages[message_id] = message
        self._sent_at[message_id] = at
        return message

    def for_number(self, msisdn: str) -> List[dict]:
        """The SMS a number received, as the phone page shows them."""
        digits = int(msisdn.lstrip("+"))
        return [self.view(m, msisdn) for m in self.messages.values()
                if any(item["recipient"] == digits for item in m["recipients"]["items"])]

    def numbers(self) -> List[str]:
        return sorted({"+" + str(item["recipient"]) for m in self.messages.values()
                       for item in m["recipients"]["items"]})

    def view(self, message: dict, msisdn: str) -> dict:
        """One SMS in the shape of the simulator's other messages (direction,
        to/from, status, content), plus what is particular to SMS."""
        return {
            "id": message["id"], "type": "sms", "platform": "sms", "direction": "sent",
            "from": message["originator"], "to": msisdn, "status": "delivered",
            "originator": message["originator"], "body": message["body"],
            "reference": message["reference"], "parts": sms_parts(message["body"]),
            "datacoding": message["datacoding"], "content": {"text": message["body"]},
            "createdDatetime": _phone_time(self._sent_at[message["id"]]),
            "updatedDatetime": _phone_time(self._sent_at[message["id"]]),
        }


def check_sms(body: dict) -> tuple:
    """Validates a POST /messages body as the API would:
    (originator, text, recipients in E.164, reference, validity)."""
    originator = text(body, "originator", "originator")
    if not _ORIGINATOR.match(originator):
        raise invalid("originator", "originator must be a phone number or at most 11 alphanumeric characters")
    message = text(body, "body", "body", MAX_BODY)
    recipients = _recipients(body.get("recipients"))
    reference = text(body, "reference", "reference", 255, required=False)
    validity = field(body, "validity", "validity", int, required=False)
    if validity is not None and validity < 1:
        raise invalid("validity", "validity must be a positive number of seconds")
    return originator, message, recipients, reference, validity


def _recipients(value) -> List[str]:
    if value is None:
        raise ApiError(422, 9, "recipients is required", "recipients")
    if isinstance(value, str):  # the API also takes "316...,316..."
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise invalid("recipients", "recipients must be a non-empty array of phone numbers")
    if len(value) > MAX_RECIPIENTS:
        raise invalid("recipients", f"at most {MAX_RECIPIENTS} recipients per message")
    numbers = []
    for item in value:
        number = None
        if isinstance(item, int) and not isinstance(item, bool):
            number = to_e164("+" + str(item), REGION)
        elif isinstance(item, str) and item.strip().lstrip("+").isdigit():
            number = to_e164("+" + item.strip().lstrip("+"), REGION)
        if number is None:
            raise invalid("recipients", f"{item!r} is not a valid phone number (international, no +)")
        numbers.append(number)
    return numbers


# --------------------------------------------------------------------- HTTP

def _sms(request) -> SmsCenter:
    return request.app.ctx.sms


async def send_sms(request):
    authorize(request)
    originator, message, recipients, reference, validity = check_sms(json_body(request))
    base_url = f"{request.scheme}://{request.host}"
    sent = _sms(request).send(originator, message, recipients, reference, validity, base_url)
    return response.json(sent, status=201)


async def read_sms(request, message_id: str):
    authorize(request)
    message = _sms(request).messages.get(message_id)
    if message is None:
        raise ApiError(404, 20, "message not found", "id")
    return response.json(message)


ROUTES = [
    (send_sms, "/messages", "POST"),
    (read_sms, "/messages/<message_id>", "GET"),
]
