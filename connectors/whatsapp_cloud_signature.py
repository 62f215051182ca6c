"""Meta's webhook checks: the `X-Hub-Signature-256` header of every POST, and
the GET handshake that subscribes the webhook.

Meta signs the raw body with the app secret (HMAC-SHA256, hex, prefixed with
"sha256="); the body must be checked as received, before it is parsed. The
handshake (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`) carries
no signature: the verify token chosen in the app's settings is the proof, and
the challenge is echoed back. Signing is here too, so that the simulator and
tests produce the very header the channel checks.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="
SUBSCRIBE = "subscribe"
# Meta's challenges are a few digits; anything else is not echoed.
MAX_CHALLENGE = 256


class SignatureError(Exception):
    """The webhook's signature, or the handshake, is missing or does not match."""


def sign(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for this body."""
    return PREFIX + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: str, header: Optional[str], body: bytes) -> None:
    """Returns when `header` is Meta's signature of `body`; SignatureError
    saying why not otherwise."""
    if not app_secret:
        raise SignatureError("no app secret configured")
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    if not header.startswith(PREFIX):
        raise SignatureError(f"{HEADER} does not start with {PREFIX!r}")
    given = header[len(PREFIX):].strip().lower().encode("utf-8", "replace")
    expected = sign(app_secret, body)[len(PREFIX):].encode("ascii")
    if not hmac.compare_digest(given, expected):
        raise SignatureError("signature does not match the body")


def verify_handshake(verify_token: str, mode: Optional[str], token: Optional[str],
                     challenge: Optional[str]) -> str:
    """The challenge to answer with when the handshake is Meta's subscribing
    this webhook; SignatureError saying why not otherwise."""
    if not verify_token:
        raise SignatureError("no verify token configured")
    if mode != SUBSCRIBE:
        raise SignatureError(f"hub.mode is {str(mode)[:20]!r}, not {SUBSCRIBE!r}")
    if token is None or not hmac.compare_digest(token.encode("utf-8", "replace"),
                                                 verify_token.encode("utf-8")):
        raise SignatureError("hub.verify_token does not match")
    if not challenge or len(challenge) > MAX_CHALLENGE or not (challenge.isascii() and challenge.isprintable()):
        raise SignatureError("hub.challenge missing or not plain text")
    return challenge
