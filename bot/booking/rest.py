"""The reference booking adapter: the REST API in bot/booking/openapi.yaml,
spoken with aiohttp."""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Any, List, Optional
from urllib.parse import quote

import aiohttp

from bot.booking import (
    Appointment,
    AppointmentNotFound,
    BookingError,
    BookingRefused,
    BookingSystem,
    BookingUnavailable,
    Office,
    Procedure,
    SlotTaken,
    WaitingListEntry,
)
from bot.foundation import metrics

logger = logging.getLogger(__name__)


class _Retryable(Exception):
    """A failure worth another attempt: network trouble or a 5xx."""


class RestBookingSystem(BookingSystem):
    """Every call may be retried: reads are safe and the writes (confirm,
    cancel, attendance, joining and leaving a waiting list, booking a slot)
    are idempotent in the API."""

    BACKOFF_SECONDS = 0.2  # doubled at each retry

    def __init__(self, base_url: str, token: str, timeout: float = 5.0, retries: int = 2):
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._token}", "Accept": "application/json"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def list_offices(self) -> List[Office]:
        return _parsed_list(Office.from_dict, await self._request("list_offices", "GET", "/offices"))

    async def get_office(self, office_id: str) -> Office:
        return _parsed(Office.from_dict, await self._request("get_office", "GET",
                                                             "/offices/" + _segment(office_id)))

    async def get_procedure(self, procedure_id: str) -> Procedure:
        return _parsed(Procedure.from_dict, await self._request("get_procedure", "GET",
                                                                "/procedures/" + _segment(procedure_id)))

    async def list_appointments(self, day: date, office_id: str) -> List[Appointment]:
        params = {"date": day.isoformat(), "office_id": office_id}
        return _parsed_list(Appointment.from_dict,
                            await self._request("list_appointments", "GET", "/appointments", params=params))

    async def upcoming_appointments(self, phone_e164: str, from_day: date) -> List[Appointment]:
        params = {"phone": phone_e164, "from": from_day.isoformat()}
        return _parsed_list(Appointment.from_dict,
                            await self._request("upcoming_appointments", "GET", "/appointments", params=params))

    async def get_appointment(self, appointment_id: str) -> Appointment:
        return await self._appointment("get_appointment", "GET", appointment_id)

    async def confirm(self, appointment_id: str) -> Appointment:
        return await self._appointment("confirm", "POST", appointment_id, "/confirm")

    async def cancel(self, appointment_id: str) -> Appointment:
        return await self._appointment("cancel", "POST", appointment_id, "/cancel")

    async def record_attendance(self, appointment_id: str, attended: bool) -> Appointment:
        return await self._appointment("record_attendance", "POST", appointment_id, "/attendance",
                                       json={"attended": attended})

    async def booking_link(self, language: str) -> str:
        body = await self._request("booking_link", "GET", "/booking-link", params={"language": language})
        return body["url"]

    async def waiting_list(self, office_id: str, procedure_id: str) -> List[WaitingListEntry]:
        params = {"office_id": office_id, "procedure_id": procedure_id}
        return _parsed_list(WaitingListEntry.from_dict,
                            await self._request("waiting_list", "GET", "/waiting-list", params=params))

    async def join_waiting_list(self, office_id: str, procedure_id: str, citizen_name: str,
                                phone: str, language: str) -> WaitingListEntry:
        body = {"office_id": office_id, "procedure_id": procedure_id, "citizen_name": citizen_name,
                "phone": phone, "language": language}
        return _parsed(WaitingListEntry.from_dict,
                       await self._request("join_waiting_list", "POST", "/waiting-list", json=body))

    async def leave_waiting_list(self, entry_id: str) -> None:
        await self._request("leave_waiting_list", "DELETE", "/waiting-list/" + _segment(entry_id),
                            empty_ok=True)

    async def book_slot(self, office_id: str, procedure_id: str, starts_at: datetime,
                        entry_id: str, freed_appointment_id: Optional[str] = None) -> Appointment:
        # Retried like the rest: a retry of a booking that went through
        # returns the same appointment, so a lost answer cannot lose the slot.
        body = {"office_id": office_id, "procedure_id": procedure_id,
                "starts_at": starts_at.isoformat(), "waiting_list_entry_id": entry_id}
        if freed_appointment_id is not None:
            body["freed_appointment_id"] = freed_appointment_id
        return _parsed(Appointment.from_dict,
                       await self._request("book_slot", "POST", "/slots/book", json=body))

    async def _appointment(self, operation: str, method: str, appointment_id: str, action: str = "",
                           **kwargs) -> Appointment:
        path = "/appointments/" + _segment(appointment_id) + action
        return _parsed(Appointment.from_dict, await self._request(operation, method, path, **kwargs))

    async def _request(self, operation: str, method: str, path: str, empty_ok: bool = False,
                       **kwargs) -> Any:
        """The decoded JSON body, after up to `retries` more attempts with
        exponential backoff when the system is unreachable or failing.
        `operation` names the call in the metrics (never the path: it holds ids).
        `empty_ok`: a 204 No Content is the answer (None)."""
        for attempt in range(self._retries + 1):
            try:
                return await self._attempt(operation, method, path, empty_ok, **kwargs)
            except _Retryable as exc:
                if attempt == self._retries:
                    raise BookingUnavailable(f"booking system unavailable: {exc}") from exc
                delay = self.BACKOFF_SECONDS * 2 ** attempt
                logger.warning("booking %s %s failed (%s); retrying in %.1f s", method, path, exc, delay)
                await asyncio.sleep(delay)

    async def _attempt(self, operation: str, method: str, path: str, empty_ok: bool, **kwargs) -> Any:
        try:
            async with self._client().request(method, self._base_url + path, **kwargs) as resp:
                body = await _json_or_none(resp)
                status = resp.status
        except asyncio.TimeoutError as exc:
            metrics.count_booking_error(operation, metrics.BOOKING_TIMEOUT)
            raise _Retryable(str(exc) or type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            metrics.count_booking_error(operation, metrics.BOOKING_CONNECTION)
            raise _Retryable(str(exc) or type(exc).__name__) from exc
        if status >= 500:
            metrics.count_booking_error(operation, metrics.BOOKING_SERVER_ERROR)
            raise _Retryable(f"HTTP {status} {_error(body)[1]}".strip())
        if status >= 400:
            metrics.count_booking_error(operation, metrics.BOOKING_REFUSED)
            raise _client_error(status, body)
        if empty_ok and status == 204:
            return None
        if body is None:
            metrics.count_booking_error(operation, metrics.BOOKING_INVALID_RESPONSE)
            raise BookingUnavailable(f"booking system answered {method} {path} without a JSON body")
        return body


def _parsed(from_dict, body: Any):
    """A booking system that answers 200 with something else than the API's
    shape is as good as down: BookingUnavailable, never a KeyError deep in a
    caller (the console shows what the stores know; actions say "try later")."""
    try:
        return from_dict(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BookingUnavailable(f"booking system answered in an unknown shape: {exc!r}") from exc


def _parsed_list(from_dict, body: Any) -> list:
    if not isinstance(body, list):
        raise BookingUnavailable("booking system answered a list request with something else")
    return [_parsed(from_dict, item) for item in body]


def _segment(value: str) -> str:
    """A path segment; quoting keeps an id from ever reaching another path."""
    return quote(str(value), safe="")


async def _json_or_none(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except ValueError:  # an HTML error page from a proxy, say
        return None


def _error(body: Any) -> tuple:
    """(code, message) from the API's error envelope, tolerating its absence."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code", "")), str(error.get("message", ""))


def _client_error(status: int, body: Any) -> BookingError:
    code, message = _error(body)
    if status == 404:
        return AppointmentNotFound(message or "not found")
    if status == 409 and code == SlotTaken.CODE:
        return SlotTaken(message or "the slot is no longer free")
    if status == 401:
        return BookingError("the booking system rejected the token: check RECORDA_BOOKING_TOKEN "
                            "(settings.booking_token)")
    if status in (400, 409, 422):
        return BookingRefused(code or f"http_{status}", message or f"refused with HTTP {status}")
    return BookingError(f"booking system answered HTTP {status}: {message or code}")


def booking_system_from_settings(settings) -> BookingSystem:
    """The adapter configured by `bot.foundation.settings.Settings`."""
    return RestBookingSystem(settings.booking_url, settings.booking_token)
