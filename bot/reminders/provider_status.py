"""Maps the provider's message statuses and error codes to reminder states and
to failure reasons a person understands (docs/architecture.md, "Facts about the platforms")."""
from __future__ import annotations

from typing import Optional

from bot.reminders import states

# Both providers: MessageBird (whose SDKs disagree on the list) and Meta (sent,
# delivered, read, failed). Unknown values move nothing.
_STATUS_TO_STATE = {
    "accepted": states.SENT, "pending": states.SENT, "sent": states.SENT,
    "transmitted": states.SENT, "buffered": states.SENT, "dispatched": states.SENT,
    "delivered": states.DELIVERED,
    "read": states.READ,
    "failed": states.FAILED, "rejected": states.FAILED, "delivery_failed": states.FAILED,
    "expired": states.FAILED, "deleted": states.FAILED,
}

NO_WHATSAPP = "no_whatsapp_account"
NOT_DELIVERED = "not_delivered"
NUMBER_DOES_NOT_EXIST = "number_does_not_exist"
TEMPLATE_REJECTED = "template_rejected"
RATE_LIMITED = "rate_limited"
OUTSIDE_WINDOW = "outside_window"
PROVIDER_ERROR = "provider_error"
# Found before sending, by the daily job.
INVALID_NUMBER = "invalid_number"
NOT_MOBILE = "not_mobile"

_CODE_TO_REASON = {
    302: NO_WHATSAPP, 131026: NO_WHATSAPP,
    301: NOT_DELIVERED, 131047: OUTSIDE_WINDOW, 470: OUTSIDE_WINDOW,
    1002: NUMBER_DOES_NOT_EXIST, 1026: NUMBER_DOES_NOT_EXIST, 131030: NUMBER_DOES_NOT_EXIST,
    429: RATE_LIMITED, 130429: RATE_LIMITED, 131056: RATE_LIMITED,
}


def state_for_status(status: Optional[str]) -> Optional[str]:
    return _STATUS_TO_STATE.get((status or "").lower())


def reason_for_error(code: Optional[int]) -> str:
    if code is None:
        return PROVIDER_ERROR
    if code in _CODE_TO_REASON:
        return _CODE_TO_REASON[code]
    if 132000 <= code <= 132999:  # WhatsApp template errors
        return TEMPLATE_REJECTED
    return PROVIDER_ERROR

# What staff read in the follow-up list and the console.
REASON_LABELS = {
    NO_WHATSAPP: "no WhatsApp account",
    NOT_DELIVERED: "not delivered (phone off or old app)",
    NUMBER_DOES_NOT_EXIST: "number does not exist",
    TEMPLATE_REJECTED: "template rejected by WhatsApp",
    RATE_LIMITED: "rate limited by the provider",
    OUTSIDE_WINDOW: "outside WhatsApp's 24 h window",
    PROVIDER_ERROR: "provider error",
    INVALID_NUMBER: "invalid phone number",
    NOT_MOBILE: "landline (no WhatsApp)",
    "not_sent_by_assistant": "not sent (appointment changed or not this number's)",
    "assistant_unavailable": "assistant unavailable (re-run the job)",
}


def reason_label(reason: Optional[str], code: Optional[int] = None) -> str:
    label = REASON_LABELS.get(reason or "", reason or "unknown")
    return f"{label} (code {code})" if reason == PROVIDER_ERROR and code is not None else label
