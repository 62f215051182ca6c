"""Phone numbers: normalising to E.164, telling mobiles apart, masking for logs."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import phonenumbers
from phonenumbers import PhoneNumberType

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


@dataclass(frozen=True)
class PhoneCheck:
    e164: Optional[str]
    problem: Optional[str]  # None, "invalid_number" or "not_mobile"

    @property
    def usable(self) -> bool:
        return self.problem is None


def to_e164(raw: Optional[str], region: str = "ES") -> Optional[str]:
    """The E.164 form of a number, or None when it cannot be parsed as valid."""
    if not raw:
        return None
    text = str(raw).strip()
    # Provider payloads carry international numbers without the plus.
    if text.isdigit() and len(text) > 9:
        text = "+" + text
    return _e164(text, region)


# Kept: the same few numbers are parsed over and over (each action checks
# the sender's number several times, each delivery status names one), and
# parsing one is ~0.1 ms. Bounded, so a flood of new numbers cannot grow it.
@functools.lru_cache(maxsize=8192)
def _e164(text: str, region: str) -> Optional[str]:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_for_whatsapp(raw: Optional[str], region: str = "ES") -> PhoneCheck:
    """Whether a reminder can go to this number: valid and a mobile line."""
    e164 = to_e164(raw, region)
    if e164 is None:
        return PhoneCheck(None, "invalid_number")
    if phonenumbers.number_type(phonenumbers.parse(e164)) not in _MOBILE_TYPES:
        return PhoneCheck(e164, "not_mobile")
    return PhoneCheck(e164, None)


@functools.lru_cache(maxsize=8192)
def mask(number: Optional[str]) -> str:
    """+34612345678 -> +34 6•• ••• •78: enough to tell numbers apart in a log."""
    if not number:
        return "?"
    digits = str(number).lstrip("+")
    try:
        parsed = phonenumbers.parse("+" + digits)
        cc = str(parsed.country_code)
        national = digits[len(cc):]
    except phonenumbers.NumberParseException:
        cc, national = "", digits
    if len(national) <= 3:
        return "+" + cc + " •••"
    hidden = national[0] + "•" * (len(national) - 3) + national[-2:]
    groups = [hidden[i:i + 3] for i in range(0, len(hidden), 3)]
    return ("+" + cc + " " if cc else "") + " ".join(groups)
