"""Signed personal links: `{RECORDA_PUBLIC_URL}/c/<token>`, sent by SMS to a
citizen WhatsApp could not reach, to confirm or cancel one appointment on a
web page (bot.apps.web).

The token is a JWT (HS256, secret RECORDA_LINK_SECRET or var/link-secret)
with the fewest bytes that do the job, since it has to fit in an SMS:

    a    the appointment id
    p    the citizen's phone number, E.164 (whose appointment it must be)
    exp  the appointment's start, and at most 72 h after issue
    jti  a random id: a link is good for one confirm or cancel, after which
         its jti is in the `used_links` table and the link is refused

The header carries only "alg" (no "typ"), for the same reason. A forged
(bad signature, wrong algorithm, missing claim), expired or used link is
refused and changes nothing. The page's forms also carry a CSRF token
derived from the jti with HMAC, so another site cannot make a citizen's
browser POST with a link it learned.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

import jwt
from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

from bot.foundation.clock import utc_now
from bot.foundation.db import engine_with_tables

ALGORITHM = "HS256"
MAX_LIFETIME = timedelta(hours=72)
MIN_SECRET_LENGTH = 32
PATH_PREFIX = "/c/"

# Why a link is refused, and the HTTP status the page answers with.
FORGED, EXPIRED, USED, NOT_YOURS, BAD_FORM, UNKNOWN = (
    "forged", "expired", "used", "not_yours", "bad_form", "unknown")
HTTP_STATUS = {FORGED: 403, NOT_YOURS: 403, BAD_FORM: 403, EXPIRED: 410, USED: 410, UNKNOWN: 410}

Clock = Callable[[], datetime]

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

used_links = Table(
    "used_links", SCHEMA,
    # A jti is unique per appointment, which has one link (one SMS): short
    # random jtis are enough, and the link stays short.
    Column("appointment_id", String(64), primary_key=True),
    Column("jti", String(32), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=False),
)


class LinkRefused(Exception):
    """A link that must not be acted on; `reason` is one of the constants above."""

    def __init__(self, reason: str, claims: Optional["LinkClaims"] = None):
        super().__init__(reason)
        self.reason = reason
        self.claims = claims

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.reason]


@dataclass(frozen=True)
class LinkClaims:
    appointment_id: str
    phone: str          # E.164
    expires_at: datetime
    jti: str


class CitizenLinks:
    """Issues and checks personal links. `clock` is for tests (a frozen now)."""

    def __init__(self, secret: str, public_url: str = "http://127.0.0.1:8080",
                 clock: Clock = utc_now):
        if len(secret or "") < MIN_SECRET_LENGTH:
            raise ValueError("the link secret is missing or shorter than 32 characters: set "
                             "RECORDA_LINK_SECRET or create var/link-secret (`make run` does)")
        self._key = secret.encode()
        self.public_url = public_url.rstrip("/")
        self.clock = clock

    @classmethod
    def from_settings(cls, settings, clock: Clock = utc_now) -> "CitizenLinks":
        return cls(settings.link_secret, settings.public_url, clock)

    # --- issuing ------------------------------------------------------------
    def token(self, appointment_id: str, phone_e164: str, starts_at: datetime) -> str:
        expires = min(starts_at.astimezone(timezone.utc), self.clock() + MAX_LIFETIME)
        claims = {"a": appointment_id, "p": phone_e164, "exp": int(expires.timestamp()),
                  "jti": secrets.token_urlsafe(6)}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": None})

    def url(self, token: str) -> str:
        return f"{self.public_url}{PATH_PREFIX}{token}"

    def link(self, appointment_id: str, phone_e164: str, starts_at: datetime) -> str:
        """The personal link of one appointment for one number."""
        return self.url(self.token(appointment_id, phone_e164, starts_at))

    # --- checking -----------------------------------------------------------
    def verify(self, token: str) -> LinkClaims:
        """The link's claims; LinkRefused(FORGED or EXPIRED) otherwise.
        (Whether it was used is the UsedLinks store's business.)"""
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM],
                                options={"verify_exp": False, "require": ["a", "p", "exp", "jti"]})
            parsed = LinkClaims(str(claims["a"]), str(claims["p"]),
                                datetime.fromtimestamp(int(claims["exp"]), timezone.utc),
                                str(claims["jti"]))
        except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError):
            raise LinkRefused(FORGED) from None
        # Checked here rather than by PyJWT, so that the clock can be frozen.
        if self.clock() >= parsed.expires_at:
            raise LinkRefused(EXPIRED, parsed)
        return parsed

    def form_token(self, claims: LinkClaims) -> str:
        """The CSRF token of the page's forms: bound to this link only."""
        return hmac.new(self._key, b"form:" + claims.jti.encode(), hashlib.sha256).hexdigest()

    def check_form_token(self, claims: LinkClaims, given: Optional[str]) -> bool:
        return hmac.compare_digest(self.form_token(claims).encode(), (given or "").encode())


class UsedLinks:
    """The jti of every link that has confirmed or cancelled, so it works once."""

    def __init__(self, db_url: str):
        self.engine = engine_with_tables(db_url, SCHEMA)

    def claim(self, claims: LinkClaims, action: str) -> bool:
        """Marks the link used; False when it already was (atomic: the
        primary key lets one of two concurrent requests through)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(used_links).values(jti=claims.jti,
                                                       appointment_id=claims.appointment_id,
                                                       action=action, used_at=utc_now()))
        except IntegrityError:
            return False
        return True

    def release(self, claims: LinkClaims) -> None:
        """Un-marks a link whose operation turned out to change nothing."""
        with self.engine.begin() as conn:
            conn.execute(delete(used_links).where(self._is(claims)))

    def is_used(self, claims: LinkClaims) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(used_links.c.jti).where(self._is(claims))).first() is not None

    @staticmethod
    def _is(claims: LinkClaims):
        return (used_links.c.appointment_id == claims.appointment_id) & (used_links.c.jti == claims.jti)
