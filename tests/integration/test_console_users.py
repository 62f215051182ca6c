"""The users pages: admins add, change, deactivate users and give them
passwords; the last admin stays; nobody else gets in; the reveal log shows
who showed which number, when."""
from __future__ import annotations

import re
from datetime import date

from babel.dates import format_datetime

from bot.dev.sandbox.booking_seed import MADRID
from bot.foundation.phone import mask
from bot.reminders.store import ReminderStore

NEW_PASSWORD = "correct horse battery"


def new_user_form(**overrides) -> dict:
    form = {"username": "ana.puig", "display_name": "Ana Puig", "role": "staff", "language": "es",
            "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    form.update(overrides)
    return form


def user_id(console, username: str) -> int:
    return console.accounts.get_by_username(username).id


async def test_an_admin_adds_a_staff_user_who_can_then_sign_in(console):
    admin = await console.client("admin")
    status, html = await admin.post("/console/users", new_user_form())
    assert status == 200
    assert "User ana.puig (Ana Puig) created. They can sign in now." in html
    assert 'data-username="ana.puig"' in html

    ana = await console.client()
    status, html = await ana.sign_in("ana.puig", NEW_PASSWORD)
    assert status == 200 and "sign-out" in html
    assert 'lang="es"' in html, "the console speaks the language chosen for her"
    status, _ = await ana.get("/console/users")
    assert status == 403, "a staff user is not an admin"

    status, html = await admin.get("/console/users")
    row = re.search(r'data-username="ana.puig".*?</tr>', html, re.S).group(0)
    assert "Staff (read)" in row and "Español" in row and "Never" not in row, "she has signed in"


async def test_a_refused_new_user_gets_a_clear_message_and_keeps_what_was_typed(console):
    admin = await console.client("admin")

    status, html = await admin.post("/console/users", new_user_form(username="Staff", display_name="Second"))
    assert status == 409 and 'There is already a user &#34;staff&#34;' in html
    assert 'value="Second"' in html and NEW_PASSWORD not in html, "typed values stay, passwords do not"

    status, html = await admin.post("/console/users", new_user_form(password="short", password_again="short"))
    assert status == 400 and "The password is too short; it needs at least 10 characters." in html
    assert 'value="ana.puig"' in html and 'value="Ana Puig"' in html

    status, html = await admin.post("/console/users", new_user_form(password_again=NEW_PASSWORD + "!"))
    assert status == 400 and "The two passwords are not the same." in html

    status, html = await admin.post("/console/users", new_user_form(username="ana puig"))
    assert status == 400 and "A username can only have letters" in html

    status, html = await admin.post("/console/users", new_user_form(role="superuser"))
    assert status == 400 and "There is no such role" in html

    assert console.accounts.get_by_username("ana.puig") is None
    assert console.accounts.get_by_username("ana puig") is None


async def test_a_role_change_applies_to_the_users_next_request(console):
    staff = await console.client("staff")
    assert (await staff.get("/console/users"))[0] == 403
    admin = await console.client("admin")
    status, html = await admin.post(f"/console/users/{user_id(console, 'staff')}",
                                    {"display_name": "Marta Soler", "role": "admin", "language": "ca"})
    assert status == 200 and "Changes to staff saved." in html
    assert "<h1>Marta Soler" in html

    status, html = await staff.get("/console/users")
    assert status == 200, "the same session, now an admin"
    assert 'lang="ca"' in html and "Marta Soler" in html


async def test_deactivating_a_user_signs_them_out_until_reactivated(console):
    staff = await console.client("staff")
    admin = await console.client("admin")
    path = f"/console/users/{user_id(console, 'staff')}"

    status, html = await admin.post(path, {"active": "0"})
    assert status == 200 and "staff is deactivated and signed out." in html
    status, _, headers = await staff.get_raw("/console/day")
    assert status == 303 and headers["Location"].startswith("/console/sign-in")
    status, _ = await (await console.client()).sign_in("staff")
    assert status == 401

    status, html = await admin.post(path, {"active": "1"})
    assert status == 200 and "staff is active again and can sign in." in html
    status, html = await (await console.client()).sign_in("staff")
    assert status == 200 and "sign-out" in html


async def test_the_last_admin_cannot_be_demoted_or_deactivated(console):
    admin = await console.client("admin")
    me = f"/console/users/{user_id(console, 'admin')}"
    status, html = await admin.post(me, {"display_name": "Admin", "role": "editor", "language": "en"})
    assert status == 409 and "This is the only active admin" in html
    assert console.accounts.get_by_username("admin").role == "admin"

    status, html = await admin.post(me, {"active": "0"})
    assert status == 409 and "You cannot deactivate yourself" in html

    # With a second admin, the first may go; then the second is the last one.
    await admin.post("/console/users", new_user_form(username="boss", role="admin", language="en"))
    boss = await console.client()
    await boss.sign_in("boss", NEW_PASSWORD)
    status, html = await boss.post(me, {"active": "0"})
    assert status == 200 and "admin is deactivated" in html
    status, html = await boss.post(f"/console/users/{user_id(console, 'boss')}", {"role": "staff"})
    assert status == 409 and "This is the only active admin" in html
    assert console.accounts.get_by_username("boss").can("admin")


async def test_an_admin_sets_a_new_password_typed_twice(console):
    staff = await console.client("staff")
    admin = await console.client("admin")
    path = f"/console/users/{user_id(console, 'staff')}/password"

    status, html = await admin.post(path, {"password": NEW_PASSWORD, "password_again": "something else"})
    assert status == 400 and "The two passwords are not the same." in html
    status, html = await admin.post(path, {"password": "tiny", "password_again": "tiny"})
    assert status == 400 and "too short" in html
    assert (await staff.get_raw("/console/day"))[0] != 303, "nothing changed yet"

    status, html = await admin.post(path, {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert status == 200 and "staff has a new password; their open sessions have ended." in html
    assert (await staff.get_raw("/console/day"))[0] == 303
    assert (await (await console.client()).sign_in("staff"))[0] == 401
    assert (await (await console.client()).sign_in("staff", NEW_PASSWORD))[0] == 200


async def test_only_admins_may_use_the_users_pages(console):
    staff_id = user_id(console, "staff")
    for username in ("staff", "editor"):
        client = await console.client(username)
        for path in ("/console/users", f"/console/users/{staff_id}", "/console/reveals"):
            status, html = await client.get(path)
            assert status == 403 and "Your account is not allowed to use this page." in html, (username, path)
        status, _ = await client.post("/console/users", new_user_form(username=f"made-by-{username}"))
        assert status == 403
        status, _ = await client.post(f"/console/users/{staff_id}", {"role": "admin"})
        assert status == 403
        status, _ = await client.post(f"/console/users/{staff_id}/password",
                                      {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
        assert status == 403
    assert console.accounts.get_by_username("made-by-staff") is None
    assert console.accounts.get_by_username("made-by-editor") is None
    assert console.accounts.get_by_username("staff").role == "staff"
    assert (await (await console.client()).sign_in("staff"))[0] == 200, "password unchanged"

    anonymous = await console.client()
    assert (await anonymous.post("/console/users", new_user_form(), follow=False))[0] == 401


async def test_unknown_users_and_bad_values_are_clear_errors(console):
    admin = await console.client("admin")
    status, html = await admin.get("/console/users/9999")
    assert status == 404 and "Not found." in html
    status, _ = await admin.post("/console/users/9999", {"role": "staff"})
    assert status == 404
    status, _ = await admin.get("/console/users/abc")
    assert status == 404
    path = f"/console/users/{user_id(console, 'editor')}"
    status, html = await admin.post(path, {"language": "fr"})
    assert status == 400 and "There is no such language" in html
    status, html = await admin.post(path, {"active": "maybe"})
    assert status == 400 and "That state is not valid." in html
    status, html = await admin.post(path, {"display_name": "   "})
    assert status == 400 and "A name is needed." in html
    status, html = await admin.post(path, {})
    assert status == 400 and "The form asked for no change." in html
    assert console.accounts.get_by_username("editor").display_name == "Editor"


async def test_the_reveal_log_shows_who_revealed_which_number_when(console):
    number = "+34612345678"
    ReminderStore(console.settings.db_url).schedule("APPT-7", date(2026, 12, 1), "centre", number, "ca")
    staff = await console.client("staff")
    await staff.get("/console/users")   # any page, for the session's form token
    status, _ = await staff.post("/console/reveal", {"reference": "appointment:APPT-7", "purpose": "call",
                                                     "next": "/console/day"}, follow=False)
    assert status == 303

    admin = await console.client("admin")
    status, html = await admin.get("/console/users")
    assert 'href="/console/reveals"' in html
    status, html = await admin.get("/console/reveals")
    assert status == 200
    rows = re.findall(r'<tr data-test="reveal-row">.*?</tr>', html, re.S)
    assert len(rows) == 1
    row = rows[0]
    assert "Staff" in row and mask(number) in row and "appointment:APPT-7" in row and "Call" in row
    assert number not in html, "the log itself never shows the number"
    revealed_at = console.accounts.reveals()[0].at
    assert format_datetime(revealed_at.astimezone(MADRID), "d MMM yyyy, H:mm:ss", locale="en_GB") in row, \
        "in the town's time"

    status, html = await admin.get("/console/reveals", user="editor")
    assert "reveal-row" not in html and "Entries: 0" in html
    status, html = await admin.get("/console/reveals", page="x")
    assert status == 200 and "Entries: 1" in html
