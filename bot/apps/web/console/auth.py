"""Signing in and out, and the guard in front of every console route.

    GET/POST /console/sign-in     the only routes that answer without a session
    POST     /console/sign-out
    POST     /console/language    the signed-in user's console language
    POST     /console/reveal      show one number in full, logged

The guard: without a live session a page request is sent to the sign-in
page and anything else (a CSV, a form, an API call) gets 401; a POST whose
CSRF token is not the session's gets 403. Cookies are HttpOnly and
SameSite=Strict, Secure when the console is served over HTTPS.
"""
from __future__ import annotations

import functools
import hmac
import logging
import secrets
from typing import Optional
from urllib.parse import quote, urlparse

from sanic import Blueprint, response

from bot.apps.web.console.rendering import PREFIX, render, security_headers
from bot.apps.web.console.services import ConsoleServices
from bot.apps.web.console.texts import Translator, choose_language
from bot.foundation.languages import LANGUAGES
from bot.foundation.phone import mask

log = logging.getLogger(__name__)

SESSION_COOKIE = "recorda_console"
PRE_SIGN_IN_COOKIE = "recorda_console_form"   # CSRF for the sign-in form itself
LANGUAGE_COOKIE = "recorda_console_lang"
PUBLIC_PATHS = {f"{PREFIX}/sign-in"}
HOME = f"{PREFIX}/day"


def _set_cookie(resp, request, name: str, value: str, max_age: Optional[int] = None) -> None:
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = PREFIX
    if max_age is not None:
        cookie["max-age"] = max_age
    if request.app.ctx.console.settings.public_url.startswith("https://"):
        cookie["secure"] = True


def _delete_cookie(resp, name: str) -> None:
    resp.cookies[name] = ""
    resp.cookies[name]["path"] = PREFIX
    resp.cookies[name]["max-age"] = 0


def safe_next(target: Optional[str]) -> str:
    """Only a path of the console itself: never an open redirect. Control
    characters are refused too: browsers drop tabs and line breaks from a
    URL, and a header must never carry them."""
    if not target:
        return HOME
    target = str(target)
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return HOME
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith(PREFIX + "/") or "\\" in target:
        return HOME
    return target


def _wants_page(request) -> bool:
    return (request.method == "GET" and not request.path.endswith((".csv", ".yml", ".json"))
            and "/api/" not in request.path)


def guard(bp: Blueprint, services: ConsoleServices) -> None:
    @bp.middleware("request")
    async def require_session(request):
        request.ctx.session = None
        request.ctx.t = Translator(choose_language(
            request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE),
            request.headers.get("accept-language")))
        session = await services.run(services.accounts.session, request.cookies.get(SESSION_COOKIE))
        if session is not None:
            request.ctx.session = session
            request.ctx.t = Translator(session.user.language)
        if request.path in PUBLIC_PATHS:
            return None
        if session is None:
            if _wants_page(request):
                return response.redirect(f"{PREFIX}/sign-in?next={quote(_path_with_query(request), safe='')}",
                                         status=303, headers=security_headers())
            log.info("Console: %s %s refused without a session", request.method, request.path)
            return response.text("Sign in first.\n", status=401, headers=security_headers())
        if request.method == "POST":
            sent = request.form.get("csrf", "") if request.form else ""
            if not hmac.compare_digest(str(sent), session.csrf_token):
                log.warning("Console: %s %s by %s refused: bad CSRF token",
                            request.method, request.path, session.user.username)
                return render(request, "error.html", status=403, message=request.ctx.t("error_csrf"))
        return None


def requires(role: str):
    """A route only users of at least `role` may use (403 otherwise)."""
    def decorate(handler):
        @functools.wraps(handler)
        async def wrapped(request, *args, **kwargs):
            session = request.ctx.session
            if session is None or not session.user.can(role):
                log.warning("Console: %s %s by %s refused: needs the %s role", request.method, request.path,
                            session.user.username if session else "nobody", role)
                return render(request, "error.html", status=403, message=request.ctx.t("error_role"))
            return await handler(request, *args, **kwargs)
        return wrapped
    return decorate


def _path_with_query(request) -> str:
    return request.path + (f"?{request.query_string}" if request.query_string else "")


def register(bp: Blueprint, services: ConsoleServices) -> None:
    @bp.get("/")
    async def home(request):
        return response.redirect(HOME, status=303)

    @bp.get("/sign-in")
    async def sign_in_form(request):
        if request.ctx.session is not None:
            return response.redirect(safe_next(request.args.get("next")), status=303)
        return _sign_in_page(request, error=None)

    @bp.post("/sign-in")
    async def sign_in(request):
        t = request.ctx.t
        form = request.form or {}
        expected = request.cookies.get(PRE_SIGN_IN_COOKIE, "")
        if not expected or not hmac.compare_digest(str(form.get("csrf", "")), expected):
            log.warning("Console: sign-in refused: missing or bad form token")
            return _sign_in_page(request, error=t("sign_in_expired_form"), status=403)
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        client = request.remote_addr or request.ip
        wait = services.sign_in_limit.wait_seconds(client)
        if wait:
            log.warning("Console: sign-in from %s refused: too many failures (%d s to wait)", client, wait)
            return _sign_in_page(request, error=t("sign_in_too_many", minutes=max(1, round(wait / 60))),
                                 status=429, username=username)
        user = await services.run(services.accounts.authenticate, username, password)
        if user is None:
            services.sign_in_limit.failed(client)
            log.warning("Console: failed sign-in for %r from %s", username[:64], client)
            return _sign_in_page(request, error=t("sign_in_failed"), status=401, username=username)
        token = await services.run(services.accounts.start_session, user)
        log.info("Console: %s signed in", user.username)
        resp = response.redirect(safe_next(form.get("next")), status=303, headers=security_headers())
        _set_cookie(resp, request, SESSION_COOKIE, token,
                    max_age=int(services.accounts.lifetime.total_seconds()))
        _delete_cookie(resp, PRE_SIGN_IN_COOKIE)
        return resp

    @bp.post("/sign-out")
    async def sign_out(request):
        await services.run(services.accounts.end_session, request.cookies.get(SESSION_COOKIE))
        resp = response.redirect(f"{PREFIX}/sign-in", status=303, headers=security_headers())
        _delete_cookie(resp, SESSION_COOKIE)
        return resp

    @bp.post("/language")
    async def language(request):
        chosen = request.form.get("language")
        if chosen in LANGUAGES:
            await services.run(services.accounts.update_user, request.ctx.session.user.id, language=chosen)
        resp = response.redirect(safe_next(request.form.get("next")), status=303, headers=security_headers())
        if chosen in LANGUAGES:
            _set_cookie(resp, request, LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600)
        return resp

    @bp.post("/reveal")
    async def reveal(request):
        """Shows one number in full for a while; who and when is logged."""
        reference = str(request.form.get("reference", ""))
        kind, _, value = reference.partition(":")
        lookup = services.number_lookups.get(kind)
        number = await lookup(value) if lookup and value else None
        if not number:
            return render(request, "error.html", status=404, message=request.ctx.t("error_no_number"))
        session = request.ctx.session
        await services.run(services.accounts.reveal, session, reference, mask(number),
                           str(request.form.get("purpose", "view"))[:32])
        log.info("Console: %s revealed %s (%s)", session.user.username, mask(number), reference)
        return response.redirect(safe_next(request.form.get("next")), status=303, headers=security_headers())


def _sign_in_page(request, error: Optional[str], status: int = 200, username: str = ""):
    form_token = secrets.token_urlsafe(24)
    resp = render(request, "sign_in.html", status=status, error=error, form_token=form_token,
                  username=username, next=safe_next(request.args.get("next") or
                                                    (request.form or {}).get("next")))
    _set_cookie(resp, request, PRE_SIGN_IN_COOKIE, form_token, max_age=3600)
    return resp
