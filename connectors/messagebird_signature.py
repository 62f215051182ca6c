"""MessageBird webhook signatures (the `MessageBird-Signature-JWT` header).

MessageBird signs each webhook with a JWT (HMAC, keyed with the account's
signing key) whose claims bind it to the exact URL called and to the raw
body. Tokens live ~60 s. Verification follows the official SDKs: HS256/384/512
only, `iss` must be MessageBird, `nbf`/`exp` with a small leeway, `jti`
required, `url_hash` and `payload_hash` (present iff there is a body) must
match. Signing is here too so the simulator and tests produce the very tokens
the connector checks.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from typing import Optional

import jwt
from jwt.types import Options

HEADER = "MessageBird-Signature-JWT"
ISSUER = "MessageBird"
ALGORITHMS = ["HS256", "HS384", "HS512"]
TOKEN_LIFETIME_SECONDS = 60
LEEWAY_SECONDS = 1


class SignatureError(Exception):
    """The webhook's signature is missing, malformed, expired or does not match."""


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign_webhook(signing_key: str, url: str, body: bytes, now: Optional[float] = None,
                 lifetime: int = TOKEN_LIFETIME_SECONDS) -> str:
    """Returns the header value MessageBird would send for this URL and body."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": ISSUER,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
        "url_hash": _sha256_hex(url.encode("utf-8")),
    }
    if body:
        claims["payload_hash"] = _sha256_hex(body)
    return jwt.encode(claims, signing_key, algorithm="HS256")


def verify_webhook(signing_key: str, token: Optional[str], url: str, body: bytes,
                   now: Optional[float] = None) -> dict:
    """Checks a webhook's token; returns its claims or raises SignatureError."""
    if not signing_key:
        raise SignatureError("no signing key configured")
    if not token:
        raise SignatureError("missing signature header")
    options: Options = {"require": ["iss", "nbf", "exp", "jti", "url_hash"]}
    try:
        if now is None:
            claims = jwt.decode(token, signing_key, algorithms=ALGORITHMS, issuer=ISSUER,
                                leeway=LEEWAY_SECONDS, options=options)
        else:
            # An explicit clock (tests): check the times ourselves.
            claims = jwt.decode(token, signing_key, algorithms=ALGORITHMS, issuer=ISSUER,
                                options={"require": options["require"], "verify_exp": False,
                                         "verify_nbf": False})
            if now + LEEWAY_SECONDS < claims["nbf"]:
                raise SignatureError("token not valid yet")
            if now - LEEWAY_SECONDS >= claims["exp"]:
                raise SignatureError("token expired")
    except jwt.ExpiredSignatureError as exc:
        raise SignatureError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise SignatureError(f"invalid token: {exc}") from exc
    if claims["url_hash"] != _sha256_hex(url.encode("utf-8")):
        raise SignatureError("url_hash does not match the called URL")
    payload_hash = claims.get("payload_hash")
    if body and payload_hash != _sha256_hex(body):
        raise SignatureError("payload_hash does not match the body")
    if not body and payload_hash:
        raise SignatureError("payload_hash present but the body is empty")
    return claims
