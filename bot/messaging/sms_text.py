"""SMS text: the GSM 03.38 alphabet, and how many parts a text costs.

An SMS that holds one character outside the GSM 7-bit alphabet is sent as
UCS-2: 70 characters a part instead of 160, so two to three times the price.
Catalan and Spanish need few characters outside it (á í ó ú ç ·, the curly
apostrophe of CLDR's "d’abril"); `to_gsm7` writes those the way people do in
SMS ("anul.lar", "Placa", "d'abril"), keeping a reminder in two parts.
"""
from __future__ import annotations

import math

# GSM 03.38 basic set (without the escape character) and its extension
# table, whose characters take two septets each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

_REPLACEMENTS = {
    "á": "a", "í": "i", "ó": "o", "ú": "u", "ï": "i", "ç": "c", "â": "a", "ê": "e", "î": "i",
    "ô": "o", "û": "u", "ã": "a", "õ": "o", "ë": "e",
    "Á": "A", "À": "A", "È": "E", "Í": "I", "Ï": "I", "Ó": "O", "Ò": "O", "Ú": "U", "Ç": "C",
    "·": ".", "’": "'", "‘": "'", "´": "'", "“": '"', "”": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "…": "...", "\u00a0": " ", "\u202f": " ", "ª": "a", "º": "o",
}

SINGLE_GSM7, MULTI_GSM7 = 160, 153   # septets in a lone part / in each part of a long SMS
SINGLE_UCS2, MULTI_UCS2 = 70, 67     # UTF-16 code units


def to_gsm7(text: str) -> str:
    """The text with the characters above replaced; any other character
    outside the alphabet is kept (the SMS then goes as UCS-2)."""
    return "".join(_REPLACEMENTS.get(ch, ch) for ch in text)


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def sms_parts(text: str) -> int:
    """How many SMS parts the text takes (each is billed)."""
    if is_gsm7(text):
        septets = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        return 1 if septets <= SINGLE_GSM7 else math.ceil(septets / MULTI_GSM7)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= SINGLE_UCS2 else math.ceil(units / MULTI_UCS2)
