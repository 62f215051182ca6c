"""Admins manage who may use the console, and read who revealed which number.

    GET  /console/users                  the users, and a form to add one
    POST /console/users                  add a user
    GET  /console/users/<id>             one user: name, role, language, active, password
    POST /console/users/<id>             change name, role, language or active
    POST /console/users/<id>/password    give a new password (ends their sessions)
    GET  /console/reveals                the reveal log, newest first

Admins only. Every change answers with a redirect to a page that confirms it
(so reloading does not repeat it); a refused change shows the form again
with a message saying why, and what was typed except passwords.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List, Optional, Tuple

from sanic import Blueprint, response
from sqlalchemy import func, select, true

from bot.apps.web.console.auth import requires
from bot.apps.web.console.rendering import PREFIX, render, security_headers
from bot.apps.web.console.services import ConsoleServices
from bot.console.accounts import (
    ADMIN,
    MIN_PASSWORD_LENGTH,
    ROLES,
    STAFF,
    AccountError,
    Accounts,
    Reveal,
    User,
    reveals_table,
)
from bot.console.query_values import page_number, row_id
from bot.foundation.languages import LANGUAGES

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 128
REVEALS_PER_PAGE = 100
# A refusal that is the admin's request clashing with the state of things.
CONFLICTS = {"username_taken", "last_admin", "self_deactivate"}
# What a redirect after a change confirms (?done=...).
CONFIRMATIONS = {"created", "saved", "deactivated", "reactivated", "password"}


@dataclass(frozen=True)
class RevealPage:
    reveals: List[Reveal]
    total: int
    page: int
    pages: int


def reveal_page(accounts: Accounts, page: int, username: Optional[str] = None,
                per_page: int = REVEALS_PER_PAGE) -> RevealPage:
    """One page of the reveal log, newest first, of one user or all."""
    condition = reveals_table.c.username == username if username else true()
    with accounts.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(reveals_table).where(condition)).scalar_one()
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        rows = conn.execute(select(reveals_table).where(condition)
                            .order_by(reveals_table.c.at.desc(), reveals_table.c.id.desc())
                            .limit(per_page).offset((page - 1) * per_page)).all()
    return RevealPage([Reveal(r.username, _utc(r.at), r.reference, r.masked_number, r.purpose)
                       for r in rows], total, page, pages)


def _utc(value: datetime) -> datetime:
    # SQLite gives the stored UTC times back without their offset.
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def error_text(t, code: str, **values) -> str:
    """An AccountError's code in the reader's language."""
    values.setdefault("min", MIN_PASSWORD_LENGTH)
    key = f"users_error_{code}"
    return t(key, **values) if t.has(key) else t("users_error_unknown")


def _status_of(code: str) -> int:
    return 409 if code in CONFLICTS else 400


def _field(form, name: str) -> str:
    return str(form.get(name, "") or "") if form else ""


def _new_password(form) -> str:
    """The password typed twice; refused unless both are the same."""
    password = _field(form, "password")
    if password != _field(form, "password_again"):
        raise AccountError("mismatch", "The two passwords differ")
    return password


def _changes(form, user: User, editor: User) -> Dict[str, object]:
    """What the form asks to change, checked enough to give a clear message."""
    changes: Dict[str, object] = {}
    if "display_name" in form:
        name = _field(form, "display_name").strip()
        if not name:
            raise AccountError("empty_name", "A user needs a name")
        if len(name) > MAX_NAME_LENGTH:
            raise AccountError("name_too_long", "That name is too long")
        changes["display_name"] = name
    if "role" in form:
        changes["role"] = _field(form, "role")
    if "language" in form:
        changes["language"] = _field(form, "language")
    if "active" in form:
        active = _field(form, "active")
        if active not in ("0", "1"):
            raise AccountError("bad_active", "active is 0 or 1")
        changes["active"] = active == "1"
        # Signing oneself out for good needs another admin to undo: refuse it.
        if not changes["active"] and user.id == editor.id:
            raise AccountError("self_deactivate", "You cannot deactivate yourself")
    if not changes:
        raise AccountError("nothing_to_change", "The form changes nothing")
    return changes


def register(bp: Blueprint, services: ConsoleServices) -> None:
    accounts = services.accounts

    async def users_page(request, status: int = 200, error: Optional[str] = None,
                         form: Optional[Dict[str, str]] = None, done: Optional[str] = None,
                         done_user: Optional[User] = None):
        users = await services.run(accounts.all_users)
        return render(request, "users.html", status=status, users=users, roles=ROLES,
                      user_languages=LANGUAGES, error=error, done=done, done_user=done_user,
                      form=form or {"username": "", "display_name": "", "role": STAFF,
                                    "language": request.ctx.t.language},
                      min_password=MIN_PASSWORD_LENGTH)

    def user_page(request, target: User, status: int = 200, error: Optional[str] = None,
                  done: Optional[str] = None):
        return render(request, "user_edit.html", status=status, target=target, roles=ROLES,
                      user_languages=LANGUAGES, error=error, done=done,
                      min_password=MIN_PASSWORD_LENGTH, is_self=target.id == request.ctx.session.user.id)

    def not_found(request):
        return render(request, "error.html", status=404, message=request.ctx.t("error_not_found"))

    def confirmation(request) -> Optional[str]:
        done = request.args.get("done")
        return done if done in CONFIRMATIONS else None

    @bp.get("/users")
    @requires(ADMIN)
    async def list_users(request):
        done, done_user, user_id = confirmation(request), None, row_id(request.args.get("user"))
        if done and user_id is not None:
            done_user = await services.run(accounts.get, user_id)
        return await users_page(request, done=done, done_user=done_user)

    @bp.post("/users")
    @requires(ADMIN)
    async def create_user(request):
        form = request.form
        typed = {name: _field(form, name).strip() for name in ("username", "display_name", "role", "language")}
        try:
            if len(typed["display_name"]) > MAX_NAME_LENGTH:
                raise AccountError("name_too_long", "That name is too long")
            password = _new_password(form)
            user = await services.run(accounts.create_user, typed["username"], typed["display_name"],
                                      password, typed["role"], typed["language"])
        except AccountError as exc:
            message = error_text(request.ctx.t, exc.code, username=typed["username"].lower())
            return await users_page(request, status=_status_of(exc.code), error=message, form=typed)
        log.info("Console: %s created %s user %r", request.ctx.session.user.username, user.role, user.username)
        return response.redirect(f"{PREFIX}/users?done=created&user={user.id}", status=303,
                                 headers=security_headers())

    @bp.get("/users/<user_id:int>")
    @requires(ADMIN)
    async def show_user(request, user_id: int):
        target = await services.run(accounts.get, user_id)
        if target is None:
            return not_found(request)
        return user_page(request, target, done=confirmation(request))

    @bp.post("/users/<user_id:int>")
    @requires(ADMIN)
    async def change_user(request, user_id: int):
        target = await services.run(accounts.get, user_id)
        if target is None:
            return not_found(request)
        editor = request.ctx.session.user
        try:
            changes = _changes(request.form, target, editor)
            changed = await services.run(accounts.update_user, user_id, **changes)
        except AccountError as exc:
            return user_page(request, target, status=_status_of(exc.code),
                             error=error_text(request.ctx.t, exc.code))
        log.info("Console: %s changed user %r: %s", editor.username, target.username,
                 ", ".join(f"{k}={v}" for k, v in changes.items() if k != "display_name") or "name")
        if changed.id == editor.id and not changed.can(ADMIN):
            # They stepped down: the users pages are no longer theirs.
            return response.redirect(f"{PREFIX}/day", status=303, headers=security_headers())
        done = "saved"
        if "active" in changes and changes["active"] != target.active:
            done = "reactivated" if changes["active"] else "deactivated"
        return response.redirect(f"{PREFIX}/users/{user_id}?done={done}", status=303, headers=security_headers())

    @bp.post("/users/<user_id:int>/password")
    @requires(ADMIN)
    async def change_password(request, user_id: int):
        target = await services.run(accounts.get, user_id)
        if target is None:
            return not_found(request)
        try:
            await services.run(accounts.set_password, user_id, _new_password(request.form))
        except AccountError as exc:
            return user_page(request, target, status=_status_of(exc.code),
                             error=error_text(request.ctx.t, exc.code))
        editor = request.ctx.session.user
        log.info("Console: %s set a new password for %r", editor.username, target.username)
        if target.id == editor.id:  # their own sessions ended too, this one included
            return response.redirect(f"{PREFIX}/sign-in", status=303, headers=security_headers())
        return response.redirect(f"{PREFIX}/users/{user_id}?done=password", status=303,
                                 headers=security_headers())

    @bp.get("/reveals")
    @requires(ADMIN)
    async def reveals(request):
        page, username = _reveal_filters(request)
        found = await services.run(reveal_page, accounts, page, username)
        users = await services.run(accounts.all_users)
        return render(request, "reveals.html", log_page=found, users=users, chosen_user=username or "",
                      names={u.username: u.display_name for u in users})


def _reveal_filters(request) -> Tuple[int, Optional[str]]:
    return page_number(request.args.get("page")) or 1, (request.args.get("user") or None)
