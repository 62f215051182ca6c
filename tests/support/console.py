"""Fixtures for the staff console's tests: the web app in this process on a
free port, with three users (one per role), a tracker store that tests fill
with Rasa-shaped events, and an HTTP client that signs in like a browser
(cookies, CSRF tokens from the pages). The `console` fixture
(tests/integration/conftest.py) starts it; tests import PASSWORD and the
helpers from here.

    async def test_x(booking, console):   # list `booking` before `console`
        staff = await console.client("staff")
        status, html = await staff.get("/console/day")
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Dict, List, Optional, Tuple

import aiohttp

from bot.apps.web.app import create_app
from bot.console.accounts import Accounts
from bot.console.tracker import _metadata, events_table
from bot.dev.processes import free_port
from bot.dev.sandbox.booking_seed import MADRID
from bot.dev.served_app import serve, shut
from bot.foundation.settings import Settings

PASSWORD = "a long enough password"
USERS = {"staff": "staff", "editor": "editor", "admin": "admin"}   # username -> role


def console_settings(db_url: str, tracker_db_url: str, booking_url: str = "http://127.0.0.1:1",
                     public_url: str = "http://127.0.0.1:8080", **overrides) -> Settings:
    return replace(Settings(db_url=db_url, booking_url=booking_url, booking_token="t", rasa_url="",
                            rasa_token="", timezone=MADRID, default_region="ES", default_language="ca",
                            link_secret="0" * 64, public_url=public_url, tracker_db_url=tracker_db_url),
                   **overrides)


class Tracker:
    """Writes events into a tracker store table of Rasa's shape, as Rasa would."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        self.engine = create_engine(url, future=True)
        _metadata.create_all(self.engine)

    def add(self, sender: str, type_name: str, at: datetime, data: dict,
            intent: Optional[str] = None, action: Optional[str] = None) -> int:
        data = dict(data, event=type_name, timestamp=at.timestamp())
        with self.engine.begin() as conn:
            return conn.execute(events_table.insert().values(
                sender_id=sender, type_name=type_name, timestamp=at.timestamp(), intent_name=intent,
                action_name=action, data=json.dumps(data))).inserted_primary_key[0]

    def user(self, sender: str, at: datetime, text: str, intent: str, confidence: float,
             entities: Optional[List[dict]] = None) -> int:
        parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
                 "entities": entities or [],
                 "intent_ranking": [{"name": intent, "confidence": confidence}]}
        # As the WhatsApp channel marks them: a payload is a tap (or a photo).
        kind = ("media" if text.startswith("/EXTERNAL_media") else "button") if text.startswith("/") else "text"
        return self.add(sender, "user", at, {"text": text, "parse_data": parse, "input_channel": "messagebird",
                                             "metadata": {"kind": kind}}, intent=intent)

    def bot(self, sender: str, at: datetime, text: str, data: Optional[dict] = None) -> int:
        return self.add(sender, "bot", at, {"text": text, "data": data or {}})

    def action(self, sender: str, at: datetime, name: str) -> int:
        return self.add(sender, "action", at, {"name": name, "policy": "RulePolicy", "confidence": 1.0},
                        action=name)

    def slot(self, sender: str, at: datetime, name: str, value) -> int:
        return self.add(sender, "slot", at, {"name": name, "value": value}, action=name)


@dataclass
class Client:
    """A browser-like client: keeps cookies, sends the page's CSRF token."""
    base: str
    session: aiohttp.ClientSession
    csrf: str = ""

    def _remember_csrf(self, html: str) -> None:
        found = re.search(r'name="csrf" value="([^"]+)"', html)
        if found:
            self.csrf = found.group(1)

    async def get(self, path: str, **params) -> Tuple[int, str]:
        async with self.session.get(self.base + path, params=params or None, allow_redirects=True) as resp:
            text = await resp.text()
            self._remember_csrf(text)
            return resp.status, text

    async def get_raw(self, path: str, **params) -> Tuple[int, bytes, Dict[str, str]]:
        async with self.session.get(self.base + path, params=params or None, allow_redirects=False) as resp:
            return resp.status, await resp.read(), dict(resp.headers)

    async def post(self, path: str, data: Optional[dict] = None, csrf: Optional[str] = None,
                   follow: bool = True) -> Tuple[int, str]:
        form = dict(data or {})
        form.setdefault("csrf", self.csrf if csrf is None else csrf)
        async with self.session.post(self.base + path, data=form, allow_redirects=follow) as resp:
            text = await resp.text()
            self._remember_csrf(text)
            return resp.status, text

    async def sign_in(self, username: str, password: str = PASSWORD) -> Tuple[int, str]:
        status, html = await self.get("/console/sign-in")
        assert status == 200, html
        return await self.post("/console/sign-in", {"username": username, "password": password})


@dataclass
class Console:
    url: str
    settings: Settings
    accounts: Accounts
    tracker: Tracker
    app: object
    clients: List[aiohttp.ClientSession] = field(default_factory=list)

    async def client(self, username: Optional[str] = None) -> Client:
        """A client, signed in as `username` (staff, editor, admin) if given."""
        # unsafe=True: keep cookies for an IP address (127.0.0.1).
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.clients.append(session)
        client = Client(self.url, session)
        if username:
            status, html = await client.sign_in(username)
            assert status == 200 and "sign-out" in html, html[:500]
        return client


async def start_console(tmp_path, booking=None, booking_url: str = "http://127.0.0.1:1",
                        **overrides) -> Tuple[Console, object]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = console_settings(f"sqlite:///{tmp_path / 'recorda.db'}", f"sqlite:///{tmp_path / 'tracker.db'}",
                                booking_url=booking_url, public_url=url, **overrides)
    accounts = Accounts.from_settings(settings)
    for username, role in USERS.items():
        if accounts.get_by_username(username) is None:
            accounts.create_user(username, username.title(), PASSWORD, role, "en")
    tracker = Tracker(settings.tracker_db_url)
    app = create_app(settings, booking, name=f"console_test_{time.monotonic_ns()}")
    server = await serve(app, port)
    return Console(url, settings, accounts, tracker, app), server


async def stop_console(served: Console, server) -> None:
    for session in served.clients:
        await session.close()
    await shut(server)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
