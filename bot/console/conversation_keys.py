"""The opaque key that stands for a conversation in console URLs, instead of
the citizen's number (URLs end up in logs and browser history)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from typing import Iterable, Optional

log = logging.getLogger(__name__)

KEY_LENGTH = 20                   # hex characters of a conversation key
_KEY = re.compile(r"^[0-9a-f]{%d}$" % KEY_LENGTH)


class ConversationKeys:
    """A conversation's key: the first 20 hex characters of
    HMAC-SHA256(secret, sender).

    The secret is derived from the link secret, so it survives restarts;
    without one (a development set-up) a random one is used and keys change
    when the console restarts.

    Finding the sender of a key means computing the key of every sender in
    the tracker store (TrackerEvents.senders()): an HMAC is a microsecond,
    and a city hall has some thousands of senders within the retention
    period, so this costs milliseconds and needs no table of keys to keep
    in step with Rasa's store. It is done once per request that needs it.
    """

    def __init__(self, link_secret: str):
        if link_secret:
            self._secret = hmac.new(link_secret.encode(), b"recorda console conversation key",
                                    hashlib.sha256).digest()
        else:
            log.warning("No link secret set: conversation links in the console change at each restart")
            self._secret = secrets.token_bytes(32)

    def key(self, sender: str) -> str:
        return hmac.new(self._secret, sender.encode(), hashlib.sha256).hexdigest()[:KEY_LENGTH]

    @staticmethod
    def looks_valid(key: str) -> bool:
        return bool(_KEY.fullmatch(key or ""))   # fullmatch: "$" would let a final newline by

    def find(self, key: str, senders: Iterable[str]) -> Optional[str]:
        if not self.looks_valid(key):
            return None
        for sender in senders:
            if hmac.compare_digest(self.key(sender), key):
                return sender
        return None
