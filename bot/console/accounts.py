"""Who may use the staff console: users with a role, their passwords
(Argon2id through argon2-cffi), their signed-in sessions, and the log of
phone numbers they revealed.

Roles are cumulative: staff read; editors also review and export NLU data;
admins also manage users and read the reveal log.

A session is a random token in an HttpOnly cookie; the database keeps only
its SHA-256, so a leaked database does not sign anybody in. It ends at
sign-out, after `idle` without a request, or `lifetime` after sign-in,
whichever comes first. Each session has its own CSRF token for forms.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Union

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from bot.foundation.clock import stored_utc as _aware
from bot.foundation.clock import utc_now as _now
from bot.foundation.db import engine_with_tables
from bot.foundation.errors import CodedError
from bot.foundation.languages import LANGUAGES

STAFF, EDITOR, ADMIN = "staff", "editor", "admin"
ROLES = (STAFF, EDITOR, ADMIN)
MIN_PASSWORD_LENGTH = 10
MAX_FAILED_SIGN_INS = 5              # then the account waits LOCKOUT
LOCKOUT = timedelta(minutes=5)
REVEAL_LASTS = timedelta(minutes=15)  # a revealed number shows this long

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

users_table = Table(
    "console_users", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("role", String(16), nullable=False),
    Column("language", String(8), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_sign_ins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True), nullable=True),
)

sessions_table = Table(
    "console_sessions", SCHEMA,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("console_users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # {reference: ISO time until which its number shows in full}
    Column("revealed", Text, nullable=True),
)

reveals_table = Table(
    "console_reveals", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, nullable=False),
    Column("username", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("reference", String(128), nullable=False),
    Column("masked_number", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
)


class AccountError(CodedError):
    """A user cannot be created or changed so; `code` names why (for the console's texts)."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_at_least(role: str, needed: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    language: str
    active: bool
    created_at: datetime
    last_sign_in_at: Optional[datetime]

    def can(self, needed_role: str) -> bool:
        return self.active and role_at_least(self.role, needed_role)

    @classmethod
    def from_row(cls, row) -> "User":
        return cls(row.id, row.username, row.display_name, row.role, row.language, bool(row.active),
                   _aware(row.created_at), _aware(row.last_sign_in_at))


@dataclass(frozen=True)
class Session:
    token_hash: str
    user: User
    csrf_token: str
    expires_at: datetime
    revealed: Dict[str, str]

    def shows_number(self, reference: str, now: Optional[datetime] = None) -> bool:
        until = self.revealed.get(reference)
        if not until:
            return False
        return datetime.fromisoformat(until) > (now or _now())


@dataclass(frozen=True)
class Reveal:
    username: str
    at: datetime
    reference: str
    masked_number: str
    purpose: str


class Accounts:
    def __init__(self, db_url: str, lifetime: timedelta = timedelta(hours=10),
                 idle: timedelta = timedelta(minutes=60), clock=_now):
        self.engine = engine_with_tables(db_url, SCHEMA)
        self.lifetime, self.idle, self.clock = lifetime, idle, clock
        self._hasher = PasswordHasher()
        # Verified against when the username is unknown, so that a sign-in
        # takes as long whether or not the user exists.
        self._decoy_hash = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def from_settings(cls, settings) -> "Accounts":
        return cls(settings.db_url, timedelta(hours=settings.console_session_hours),
                   timedelta(minutes=settings.console_idle_minutes))

    # ------------------------------------------------------------ users
    def create_user(self, username: str, display_name: str, password: str, role: str,
                    language: str = "ca") -> User:
        username = username.strip().lower()
        if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
            raise AccountError("bad_username", "A username is letters, digits and . _ - @ only")
        if role not in ROLES:
            raise AccountError("bad_role", f"Unknown role {role!r}: one of {', '.join(ROLES)}")
        if language not in LANGUAGES:
            raise AccountError("bad_language", f"Unknown language {language!r}")
        self._check_password(password)
        with self.engine.begin() as conn:
            if conn.execute(select(users_table.c.id).where(users_table.c.username == username)).first():
                raise AccountError("username_taken", f"There is already a user {username!r}")
            conn.execute(insert(users_table).values(
                username=username, display_name=display_name.strip() or username,
                password_hash=self._hasher.hash(password), role=role, language=language,
                active=True, failed_sign_ins=0, created_at=self.clock()))
        user = self.get_by_username(username)
        assert user is not None   # just inserted, and users are never deleted
        return user

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError("short_password",
                               f"A password needs at least {MIN_PASSWORD_LENGTH} characters")

    def get(self, user_id: int) -> Optional[User]:
        if not 0 < user_id < 2 ** 63:   # an id from a link: none bigger fits the column
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(users_table).where(users_table.c.id == user_id)).first()
        return User.from_row(row) if row else None

    def get_by_username(self, username: str) -> Optional[User]:
        with self.engine.connect() as conn:
            row = conn.execute(select(users_table).where(
                users_table.c.username == username.strip().lower())).first()
        return User.from_row(row) if row else None

    def all_users(self) -> List[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users_table).order_by(users_table.c.username)).all()
        return [User.from_row(row) for row in rows]

    def count_admins(self) -> int:
        return sum(1 for u in self.all_users() if u.active and u.role == ADMIN)

    def update_user(self, user_id: int, *, role: Optional[str] = None, language: Optional[str] = None,
                    active: Optional[bool] = None, display_name: Optional[str] = None) -> User:
        user = self.get(user_id)
        if user is None:
            raise AccountError("no_such_user", "No such user")
        values: Dict[str, Union[str, bool]] = {}
        if role is not None:
            if role not in ROLES:
                raise AccountError("bad_role", f"Unknown role {role!r}")
            values["role"] = role
        if language is not None:
            if language not in LANGUAGES:
                raise AccountError("bad_language", f"Unknown language {language!r}")
            values["language"] = language
        if active is not None:
            values["active"] = active
        if display_name is not None and display_name.strip():
            values["display_name"] = display_name.strip()
        if not values:
            return user
        losing_admin = user.role == ADMIN and user.active and (
            values.get("role", ADMIN) != ADMIN or values.get("active", True) is False)
        if losing_admin and self.count_admins() <= 1:
            raise AccountError("last_admin", "The last admin cannot lose that role")
        with self.engine.begin() as conn:
            conn.execute(update(users_table).where(users_table.c.id == user_id).values(**values))
            if values.get("active") is False:
                conn.execute(delete(sessions_table).where(sessions_table.c.user_id == user_id))
        updated = self.get(user_id)
        assert updated is not None   # found above, and users are never deleted
        return updated

    def set_password(self, user_id: int, password: str) -> None:
        """A new password also ends the user's sessions elsewhere."""
        self._check_password(password)
        with self.engine.begin() as conn:
            conn.execute(update(users_table).where(users_table.c.id == user_id).values(
                password_hash=self._hasher.hash(password), failed_sign_ins=0, locked_until=None))
            conn.execute(delete(sessions_table).where(sessions_table.c.user_id == user_id))

    # --------------------------------------------------------- sign-in
    def authenticate(self, username: str, password: str) -> Optional[User]:
        """The user, if the password is theirs and the account is active and
        not locked; counts failures and locks after MAX_FAILED_SIGN_INS."""
        now = self.clock()
        with self.engine.connect() as conn:
            row = conn.execute(select(users_table).where(
                users_table.c.username == username.strip().lower())).first()
        if row is None:
            self._verify(self._decoy_hash, password)
            return None
        locked = _aware(row.locked_until)
        if not row.active or (locked is not None and locked > now):
            self._verify(self._decoy_hash, password)
            return None
        if not self._verify(row.password_hash, password):
            failures = (row.failed_sign_ins or 0) + 1
            values = {"failed_sign_ins": failures}
            if failures >= MAX_FAILED_SIGN_INS:
                values = {"failed_sign_ins": 0, "locked_until": now + LOCKOUT}
            with self.engine.begin() as conn:
                conn.execute(update(users_table).where(users_table.c.id == row.id).values(**values))
            return None
        values = {"failed_sign_ins": 0, "locked_until": None, "last_sign_in_at": now}
        if self._hasher.check_needs_rehash(row.password_hash):
            values["password_hash"] = self._hasher.hash(password)
        with self.engine.begin() as conn:
            conn.execute(update(users_table).where(users_table.c.id == row.id).values(**values))
        return self.get(row.id)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # --------------------------------------------------------- sessions
    def start_session(self, user: User) -> str:
        """A new session for `user`; returns the token for the cookie."""
        token, now = secrets.token_urlsafe(32), self.clock()
        with self.engine.begin() as conn:
            conn.execute(insert(sessions_table).values(
                token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                created_at=now, last_seen_at=now, expires_at=now + self.lifetime, revealed="{}"))
        return token

    def session(self, token: Optional[str]) -> Optional[Session]:
        """The live session of this token, its idle time reset; None if it
        is unknown, expired, idle too long or its user deactivated."""
        if not token or len(token) > 256:
            return None
        now, token_hash = self.clock(), _token_hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions_table).where(sessions_table.c.token_hash == token_hash)).first()
        if row is None:
            return None
        user = self.get(row.user_id)
        if (user is None or not user.active or _aware(row.expires_at) <= now
                or _aware(row.last_seen_at) + self.idle <= now):
            self.end_session(token)
            return None
        if now - _aware(row.last_seen_at) > timedelta(seconds=30):  # spare a write per request
            with self.engine.begin() as conn:
                conn.execute(update(sessions_table).where(sessions_table.c.token_hash == token_hash)
                             .values(last_seen_at=now))
        return Session(token_hash, user, row.csrf_token, _aware(row.expires_at),
                       json.loads(row.revealed or "{}"))

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.token_hash == _token_hash(token)))

    def purge_expired_sessions(self) -> int:
        now = self.clock()
        with self.engine.begin() as conn:
            return conn.execute(delete(sessions_table).where(
                (sessions_table.c.expires_at <= now) |
                (sessions_table.c.last_seen_at <= now - self.idle))).rowcount

    # ---------------------------------------------------------- reveals
    def reveal(self, session: Session, reference: str, masked_number: str, purpose: str) -> None:
        """Logs who revealed which number when, and shows it in full in this
        session for REVEAL_LASTS."""
        now = self.clock()
        revealed = {ref: until for ref, until in session.revealed.items()
                    if datetime.fromisoformat(until) > now}
        revealed[reference] = (now + REVEAL_LASTS).isoformat()
        with self.engine.begin() as conn:
            conn.execute(insert(reveals_table).values(
                user_id=session.user.id, username=session.user.username, at=now,
                reference=reference[:128], masked_number=masked_number[:32], purpose=purpose[:32]))
            conn.execute(update(sessions_table).where(sessions_table.c.token_hash == session.token_hash)
                         .values(revealed=json.dumps(revealed)))

    def reveals(self, limit: int = 200) -> List[Reveal]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(reveals_table).order_by(reveals_table.c.at.desc(),
                                                                reveals_table.c.id.desc()).limit(limit)).all()
        return [Reveal(r.username, _aware(r.at), r.reference, r.masked_number, r.purpose) for r in rows]
