"""The citizen's page of a personal link (bot.citizens.links), under `/c`:

    GET  /c/<token>           the appointment, and two buttons
    POST /c/<token>/confirm   the same confirm as the assistant's
    POST /c/<token>/cancel    the same cancel as the assistant's

The link is the credential: signed, expiring at the appointment, for the
phone number of the appointment, good for one answer. A forged, expired,
used or someone else's link gets a plain page (403/410), a log line with the
number masked, and changes nothing. The forms carry a CSRF token derived
from the link (HMAC of its jti).

An answer does what the assistant does (actions/appointment.py): only on an
appointment of the link's number; already done -> said kindly, nothing
changed; booking system down -> queued in the outbox and "being processed",
never "done" before it is (the worker does it and tells the citizen by SMS);
refused by the booking system -> why, and the office's phone. A done answer
is recorded in the reminder store with channel "sms", and the link is used.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

from sanic import Blueprint, response

import bot.foundation.clock
from bot.apps.web import pages
from bot.booking import (
    CANCELLED,
    CONFIRMED,
    Appointment,
    AppointmentNotFound,
    BookingError,
    BookingRefused,
    BookingSystem,
    BookingUnavailable,
)
from bot.booking.outbox import BookingOutbox
from bot.citizens.links import (
    BAD_FORM,
    FORGED,
    NOT_YOURS,
    UNKNOWN,
    USED,
    CitizenLinks,
    LinkClaims,
    LinkRefused,
    UsedLinks,
)
from bot.citizens.texts import Texts
from bot.foundation.aio import in_thread
from bot.foundation.languages import LANGUAGES, format_when, normalise_language
from bot.foundation.phone import mask, to_e164
from bot.foundation.settings import Settings
from bot.reminders import states
from bot.reminders.sms_fallback import sms_sender_id
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 1024
SECURITY_HEADERS = {
    # The path holds the credential: never cache it, never send it on as a Referer.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
# operation -> the appointment status it leads to
DONE_STATUS = {"confirm": CONFIRMED, "cancel": CANCELLED}


@dataclass(frozen=True)
class CitizenServices:
    settings: Settings
    booking: BookingSystem
    reminders: ReminderStore
    outbox: BookingOutbox
    used: UsedLinks
    links: CitizenLinks

    @property
    def base_path(self) -> str:
        """The path the public URL adds in front (behind a proxy), e.g. "/recorda"."""
        return urlparse(self.settings.public_url).path.rstrip("/")


@dataclass(frozen=True)
class Outcome:
    """What an answer came to: done | already | queued | refused | error."""
    kind: str
    appointment: Optional[Appointment]
    refusal_code: str = ""


class NotNow(Exception):
    """The booking system cannot say whose the appointment is right now."""


def citizen_blueprint() -> Blueprint:
    """A new Blueprint each time: Sanic binds one to one app."""
    bp = Blueprint("citizen", url_prefix="/c")
    bp.add_route(show, "/<token>", methods=["GET"])
    bp.add_route(confirm, "/<token>/confirm", methods=["POST"])
    bp.add_route(cancel, "/<token>/cancel", methods=["POST"])

    @bp.middleware("response")
    async def security_headers(request, resp):
        resp.headers.update(SECURITY_HEADERS)

    return bp


def _services(request) -> CitizenServices:
    return request.app.ctx.citizen


# ----------------------------------------------------------------- handlers

async def show(request, token: str):
    s = _services(request)
    claims = None
    try:
        claims = await _valid_link(s, token)
        appointment = await _owned(s, claims)
    except LinkRefused as refused:
        return await _refusal(request, s, refused)
    except NotNow:
        return await _try_later(request, s, claims)
    language = await _language(s, claims, appointment, request)
    view = await _view(s, appointment, language)
    html = pages.appointment_page(Texts(language), view, token, s.links.form_token(claims), s.base_path)
    return response.html(html)


async def confirm(request, token: str):
    return await _answer(request, token, "confirm")


async def cancel(request, token: str):
    return await _answer(request, token, "cancel")


async def _answer(request, token: str, operation: str):
    s = _services(request)
    claims = None
    try:
        claims = await _valid_link(s, token)
        if not s.links.check_form_token(claims, request.form.get("form")):
            raise LinkRefused(BAD_FORM, claims)
        appointment = await _owned(s, claims)
        language = await _language(s, claims, appointment, request)
        outcome = await perform(s, claims, appointment, operation, language)
    except LinkRefused as refused:
        return await _refusal(request, s, refused)
    except NotNow:
        return await _try_later(request, s, claims)
    t = Texts(language)
    extra = await _extras(s, outcome, operation, language)
    status = 502 if outcome.kind == "error" else (409 if outcome.kind == "refused" else 200)
    return response.html(pages.result_page(t, outcome.kind, operation, s.base_path, **extra), status=status)


# ------------------------------------------------------------ the operation

async def perform(s: CitizenServices, claims: LinkClaims, appointment: Optional[Appointment],
                  operation: str, language: str) -> Outcome:
    """Confirm or cancel as the assistant would. `appointment` is None when
    the booking system is down and the reminder store vouched for the link."""
    aid = claims.appointment_id
    if appointment is not None and appointment.status == DONE_STATUS[operation]:
        # Nothing to do and nothing done: the link stays good (for a cancel
        # after all, say).
        return Outcome("already", appointment)
    if not await in_thread(s.used.claim, claims, operation):
        raise LinkRefused(USED, claims)  # the other of two simultaneous taps won
    if appointment is None or await in_thread(s.outbox.pending_for, aid):
        return await _queue(s, claims, appointment, operation, language)
    call = s.booking.cancel if operation == "cancel" else s.booking.confirm
    try:
        updated = await call(aid)
    except BookingUnavailable as exc:
        log.warning("Booking system unavailable for %s of %s (SMS link): %s", operation, aid, exc)
        return await _queue(s, claims, appointment, operation, language)
    except BookingRefused as exc:
        await in_thread(s.used.release, claims)
        log.info("Booking system refused %s of %s (SMS link): %s", operation, aid, exc.code)
        return Outcome("refused", appointment, exc.code)
    except AppointmentNotFound:
        await in_thread(s.used.release, claims)
        raise LinkRefused(UNKNOWN, claims) from None
    except BookingError as exc:
        await in_thread(s.used.release, claims)
        log.error("Booking system error for %s of %s (SMS link): %s", operation, aid, exc)
        return Outcome("error", appointment)
    except BaseException:
        await in_thread(s.used.release, claims)
        raise
    answer = states.CANCELLED if operation == "cancel" else states.CONFIRMED
    await in_thread(s.reminders.record_answer, aid, answer, "sms")
    log.info("%s of %s done through the SMS link of %s", operation, aid, mask(claims.phone))
    return Outcome("done", updated)


async def _queue(s: CitizenServices, claims: LinkClaims, appointment: Optional[Appointment],
                 operation: str, language: str) -> Outcome:
    await in_thread(s.outbox.enqueue, claims.appointment_id, operation, sms_sender_id(claims.phone),
                    language)
    log.info("%s of %s queued (SMS link of %s)", operation, claims.appointment_id, mask(claims.phone))
    return Outcome("queued", appointment)


# ------------------------------------------------------------------ checks

async def _valid_link(s: CitizenServices, token: str) -> LinkClaims:
    """Signed, not expired, not used; LinkRefused otherwise."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise LinkRefused(FORGED)
    claims = s.links.verify(token)
    if await in_thread(s.used.is_used, claims):
        raise LinkRefused(USED, claims)
    return claims


async def _owned(s: CitizenServices, claims: LinkClaims) -> Optional[Appointment]:
    """The appointment if it is the link's number's. None when the booking
    system is down but the reminder store knows the appointment is that
    number's (as the assistant does). LinkRefused or NotNow otherwise."""
    try:
        appointment = await s.booking.get_appointment(claims.appointment_id)
    except AppointmentNotFound:
        raise LinkRefused(UNKNOWN, claims) from None
    except BookingUnavailable:
        reminder = await in_thread(s.reminders.get, claims.appointment_id)
        if reminder is not None and reminder.phone == claims.phone:
            return None
        raise NotNow() from None
    except BookingError as exc:
        log.error("Booking system error reading %s: %s", claims.appointment_id, exc)
        raise NotNow() from None
    if to_e164(appointment.phone, s.settings.default_region) != claims.phone:
        raise LinkRefused(NOT_YOURS, claims)
    return appointment


async def _language(s: CitizenServices, claims: Optional[LinkClaims],
                    appointment: Optional[Appointment], request) -> str:
    if appointment is not None:
        return normalise_language(appointment.language, s.settings.default_language)
    if claims is not None:
        reminder = await in_thread(s.reminders.get, claims.appointment_id)
        if reminder is not None and reminder.language:
            return normalise_language(reminder.language, s.settings.default_language)
    return browser_language(request.headers.get("accept-language", ""), s.settings.default_language)


def browser_language(header: str, default: str) -> str:
    """The first of ca/es/en in an Accept-Language header, by preference."""
    ranked = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, i, tag.strip().split("-")[0].lower()))
    for _, _, lang in sorted(ranked):
        if lang in LANGUAGES:
            return lang
    return default


# ------------------------------------------------------------------- pages

async def _view(s: CitizenServices, appointment: Optional[Appointment], language: str) -> pages.AppointmentView:
    if appointment is None:
        return pages.AppointmentView(details=False)
    tz = s.settings.timezone
    view = pages.AppointmentView(
        details=True, when=format_when(appointment.starts_at, language, tz),
        status=appointment.status, past=appointment.starts_at <= bot.foundation.clock.now())
    try:
        office = await s.booking.get_office(appointment.office_id)
        procedure = await s.booking.get_procedure(appointment.procedure_id)
    except BookingError as exc:
        log.warning("Details of %s unavailable: %s", appointment.id, exc)
        return view
    link = await _booking_link(s, language) if appointment.status == CANCELLED else ""
    return pages.AppointmentView(
        details=True, when=view.when, status=view.status, past=view.past,
        procedure=procedure.name(language), documents_url=procedure.documents_url,
        office=office.name, address=office.address, map_url=office.map_url, booking_url=link)


async def _extras(s: CitizenServices, outcome: Outcome, operation: str, language: str) -> dict:
    """The values a result page shows besides its text."""
    extra = {"when": "", "phone": "", "booking_url": "", "refusal_code": outcome.refusal_code}
    appointment = outcome.appointment
    if appointment is not None:
        extra["when"] = format_when(appointment.starts_at, language, s.settings.timezone)
        if outcome.kind in ("refused", "error"):
            try:
                extra["phone"] = (await s.booking.get_office(appointment.office_id)).phone
            except BookingError:
                pass
    if operation == "cancel" and outcome.kind in ("done", "already"):
        extra["booking_url"] = await _booking_link(s, language)
    return extra


async def _booking_link(s: CitizenServices, language: str) -> str:
    try:
        return await s.booking.booking_link(language)
    except Exception:  # a courtesy; never fail a page for it
        return ""


async def _refusal(request, s: CitizenServices, refused: LinkRefused):
    claims = refused.claims
    log.warning("Refused personal link (%s): appointment %s, number %s", refused.reason,
                claims.appointment_id if claims else "?", mask(claims.phone if claims else None))
    language = await _language(s, claims, None, request)
    return response.html(pages.refusal_page(Texts(language), refused.reason, s.base_path),
                         status=refused.status)


async def _try_later(request, s: CitizenServices, claims: Optional[LinkClaims]):
    language = await _language(s, claims, None, request)
    return response.html(pages.message_page(Texts(language), "try_later", s.base_path), status=503)
