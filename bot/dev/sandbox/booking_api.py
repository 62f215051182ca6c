"""The sandbox booking service's REST API (bot/booking/openapi.yaml): its
handlers, the checks of their query and body, the JSON answers and error
envelope, and the sandbox-only hooks (health, simulated outage)."""
from __future__ import annotations

import json
import logging
from datetime import date, datetime
from functools import partial
from typing import Optional, Type, TypeVar

from pydantic import BaseModel, StrictStr, ValidationError, validator
from sanic import response

from bot.dev.sandbox.booking_seed import booking_link
from bot.dev.sandbox.booking_store import ApiError, Store
from bot.foundation.languages import LANGUAGES
from bot.foundation.phone import to_e164

logger = logging.getLogger(__name__)

_dumps = partial(json.dumps, ensure_ascii=False)


def json_response(body, status: int = 200):
    return response.json(body, status=status, dumps=_dumps)


def error_response(status: int, code: str, message: str):
    return json_response({"error": {"code": code, "message": message}}, status=status)


# --- request parsing -------------------------------------------------------------

def _arg(request, name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise ApiError(400, "bad_request", f"Query parameter {name!r} is required.")
    return value


def _date_arg(request, name: str) -> date:
    try:
        return date.fromisoformat(_arg(request, name))
    except ValueError:
        raise ApiError(400, "bad_request", f"Query parameter {name!r} must be a date (YYYY-MM-DD).") from None


def _bool_field(request, name: str) -> bool:
    body = request.json
    if not isinstance(body, dict) or not isinstance(body.get(name), bool):
        raise ApiError(400, "bad_request", f'The body must be JSON like {{"{name}": true}}.')
    return body[name]


_Body = TypeVar("_Body", bound=BaseModel)


def _body(request, model: Type[_Body]) -> _Body:
    """The JSON body as `model`, or a 400 saying which fields are wrong."""
    body = request.json
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The body must be a JSON object.")
    try:
        return model.parse_obj(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(400, "bad_request", f"Invalid body: {problems}.") from None


class JoinWaitingList(BaseModel):
    office_id: StrictStr
    procedure_id: StrictStr
    citizen_name: StrictStr
    phone: StrictStr
    language: StrictStr

    @validator("citizen_name")
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @validator("language")
    def _spoken(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value


class BookSlot(BaseModel):
    office_id: StrictStr
    procedure_id: StrictStr
    starts_at: datetime
    waiting_list_entry_id: StrictStr
    freed_appointment_id: Optional[StrictStr] = None

    @validator("starts_at", pre=True)
    def _with_offset(cls, value: object) -> datetime:
        # Only the API's own form: pydantic alone would take a Unix time or a naive time.
        if not isinstance(value, str):
            raise ValueError("must be a date and time string like 2026-12-01T10:30:00+01:00")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date and time like 2026-12-01T10:30:00+01:00") from None
        if moment.tzinfo is None:
            raise ValueError("needs its UTC offset, e.g. +01:00")
        return moment


# --- API handlers ----------------------------------------------------------------

def _store(request) -> Store:
    return request.app.ctx.store


async def list_offices(request):
    return json_response(_store(request).offices())


async def get_office(request, office_id: str):
    return json_response(_store(request).office(office_id))


async def list_procedures(request):
    return json_response(_store(request).procedures())


async def get_procedure(request, procedure_id: str):
    return json_response(_store(request).procedure(procedure_id))


async def list_appointments(request):
    """Two queries share the path: one office's day, or one phone's upcoming."""
    store = _store(request)
    if "phone" in request.args:
        phone = to_e164(_arg(request, "phone"))
        if phone is None:
            raise ApiError(400, "bad_request", "Query parameter 'phone' is not a valid phone number.")
        return json_response(store.upcoming(phone, _date_arg(request, "from")))
    return json_response(store.day_appointments(_date_arg(request, "date"), _arg(request, "office_id")))


async def get_appointment(request, appointment_id: str):
    return json_response(_store(request).appointment(appointment_id))


async def confirm_appointment(request, appointment_id: str):
    return json_response(_store(request).confirm(appointment_id))


async def cancel_appointment(request, appointment_id: str):
    return json_response(_store(request).cancel(appointment_id))


async def record_attendance(request, appointment_id: str):
    attended = _bool_field(request, "attended")
    return json_response(_store(request).record_attendance(appointment_id, attended))


async def get_booking_link(request):
    language = request.args.get("language", "ca")
    if language not in LANGUAGES:
        raise ApiError(400, "bad_request",
                       f"Unsupported language {language!r}; use one of {', '.join(LANGUAGES)}.")
    return json_response({"url": booking_link(language)})


async def get_waiting_list(request):
    entries = _store(request).waiting_list(_arg(request, "office_id"), _arg(request, "procedure_id"))
    return json_response(entries)


async def join_waiting_list(request):
    join = _body(request, JoinWaitingList)
    phone = to_e164(join.phone)
    if phone is None:
        raise ApiError(400, "bad_request", "Field 'phone' is not a valid phone number.")
    entry, created = _store(request).join_waiting_list(join.office_id, join.procedure_id,
                                                        join.citizen_name, join.phone, phone, join.language)
    return json_response(entry, status=201 if created else 200)


async def leave_waiting_list(request, entry_id: str):
    _store(request).leave_waiting_list(entry_id)
    return response.empty()


async def book_slot(request):
    book = _body(request, BookSlot)
    return json_response(_store(request).book_slot(book.office_id, book.procedure_id, book.starts_at,
                                                   book.waiting_list_entry_id, book.freed_appointment_id))


API_ROUTES = [
    ("GET", "/offices", list_offices),
    ("GET", "/offices/<office_id>", get_office),
    ("GET", "/procedures", list_procedures),
    ("GET", "/procedures/<procedure_id>", get_procedure),
    ("GET", "/appointments", list_appointments),
    ("GET", "/appointments/<appointment_id>", get_appointment),
    ("POST", "/appointments/<appointment_id>/confirm", confirm_appointment),
    ("POST", "/appointments/<appointment_id>/cancel", cancel_appointment),
    ("POST", "/appointments/<appointment_id>/attendance", record_attendance),
    ("GET", "/booking-link", get_booking_link),
    ("GET", "/waiting-list", get_waiting_list),
    ("POST", "/waiting-list", join_waiting_list),
    ("DELETE", "/waiting-list/<entry_id>", leave_waiting_list),
    ("POST", "/slots/book", book_slot),
]


# --- sandbox hooks --------------------------------------------------------------

async def health(request):
    return json_response({"status": "ok", "down": request.app.ctx.down})


async def set_latency(request):
    body = request.json
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 60:
        raise ApiError(400, "bad_request", 'The body must be JSON like {"seconds": 5} (0 to 60).')
    request.app.ctx.latency = float(seconds)
    logger.warning("sandbox latency %.1f s", request.app.ctx.latency)
    return json_response({"seconds": request.app.ctx.latency})


async def set_outage(request):
    request.app.ctx.down = _bool_field(request, "down")
    logger.warning("sandbox outage %s", "ON" if request.app.ctx.down else "off")
    return json_response({"down": request.app.ctx.down})
