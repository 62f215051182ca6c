"""The console's door: sign-in, sessions, CSRF, roles, and nothing without a session."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.console.accounts import AccountError, Accounts
from tests.support.console import PASSWORD


async def test_a_page_without_a_session_sends_to_sign_in_and_other_requests_get_401(console):
    anonymous = await console.client()
    status, body, headers = await anonymous.get_raw("/console/day")
    assert status == 303 and headers["Location"].startswith("/console/sign-in?next=")
    status, body, _ = await anonymous.get_raw("/console/day.csv")
    assert status == 401
    status, _ = await anonymous.post("/console/reveal", {"reference": "appointment:X"}, follow=False)
    assert status == 401


async def test_sign_in_with_the_right_password_only(console):
    client = await console.client()
    status, html = await client.sign_in("staff", "wrong password!")
    assert status == 401 and "Usuari o contrasenya incorrectes" in html  # Catalan unless asked
    status, html = await client.sign_in("staff")
    assert status == 200 and "sign-out" in html


async def test_a_form_without_the_session_csrf_token_is_refused(console):
    client = await console.client("staff")
    status, _ = await client.post("/console/language", {"language": "es"}, csrf="forged")
    assert status == 403
    assert console.accounts.get_by_username("staff").language == "en"
    status, html = await client.post("/console/language", {"language": "es", "next": "/console/day"})
    assert console.accounts.get_by_username("staff").language == "es"


async def test_sign_out_ends_the_session(console):
    client = await console.client("staff")
    await client.post("/console/sign-out")
    status, _, headers = await client.get_raw("/console/day")
    assert status == 303 and "/console/sign-in" in headers["Location"]


def test_sessions_expire_when_idle_and_after_their_lifetime(tmp_path):
    now = [__import__("datetime").datetime(2026, 11, 30, 9, 0, tzinfo=__import__("datetime").timezone.utc)]
    accounts = Accounts(f"sqlite:///{tmp_path / 'a.db'}", lifetime=timedelta(hours=8),
                        idle=timedelta(minutes=30), clock=lambda: now[0])
    user = accounts.create_user("ana", "Ana", PASSWORD, "staff")
    token = accounts.start_session(user)
    now[0] += timedelta(minutes=29)
    assert accounts.session(token) is not None
    now[0] += timedelta(minutes=31)
    assert accounts.session(token) is None, "idle for 31 minutes"
    token = accounts.start_session(user)
    for _ in range(17):  # busy all day, but the day ends
        now[0] += timedelta(minutes=29)
        accounts.session(token)
    assert accounts.session(token) is None


def test_passwords_are_argon2_hashes_and_five_failures_lock_the_account(tmp_path):
    accounts = Accounts(f"sqlite:///{tmp_path / 'a.db'}")
    accounts.create_user("ana", "Ana", PASSWORD, "editor")
    from bot.console.accounts import users_table
    with accounts.engine.connect() as conn:
        stored = conn.execute(users_table.select()).first().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for _ in range(5):
        assert accounts.authenticate("ana", "not the password") is None
    assert accounts.authenticate("ana", PASSWORD) is None, "locked for a while"
    with pytest.raises(AccountError):
        accounts.create_user("bob", "Bob", "short", "staff")


def test_the_last_admin_cannot_be_demoted(tmp_path):
    accounts = Accounts(f"sqlite:///{tmp_path / 'a.db'}")
    admin = accounts.create_user("root", "Root", PASSWORD, "admin")
    with pytest.raises(AccountError):
        accounts.update_user(admin.id, role="staff")


async def test_a_redirect_leaves_nothing_behind_in_the_next_pages_headers(console):
    """Sanic writes a redirect's Location into the headers dict it is given:
    a shared dict would send one user's redirect along with every later page."""
    ana = await console.client("staff")
    await ana.post("/console/language", {"language": "en", "next": "/console/day?date=2026-12-01"})
    other = await console.client()
    status, _, headers = await other.get_raw("/console/sign-in")
    assert status == 200 and "Location" not in headers
    status, _, headers = await other.get_raw("/console/day.csv")
    assert status == 401 and "Location" not in headers


def test_a_client_that_keeps_failing_waits_whatever_the_username():
    from bot.console.sign_in_limit import SignInLimit
    now = [1000.0]
    limit = SignInLimit(max_failures=3, window_seconds=600, clock=lambda: now[0])
    for _ in range(3):
        assert limit.wait_seconds("10.0.0.7") == 0
        limit.failed("10.0.0.7")
    assert limit.wait_seconds("10.0.0.7") == 600
    assert limit.wait_seconds("10.0.0.8") == 0, "another machine is not affected"
    now[0] += 601
    assert limit.wait_seconds("10.0.0.7") == 0, "the failures age out"


async def test_after_too_many_failures_from_one_machine_even_the_right_password_waits(console):
    console.app.ctx.console.sign_in_limit.max_failures = 3
    client = await console.client()
    for username in ("staff", "editor", "admin"):  # a sweep across accounts
        status, _ = await client.sign_in(username, "not the password")
        assert status == 401
    status, html = await client.sign_in("staff")
    assert status == 429 and "sign-out" not in html
    assert console.accounts.get_by_username("staff").last_sign_in_at is None
