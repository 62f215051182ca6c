"""The sandbox booking service's REST API (bot/booking/openapi.yaml): its
handlers, the checks of their query and body, the JSON answers and error
envelope, and the sandbox-only hooks (health, simulated outage)."""
from __future__ import annotations

import json
import logging
from datetime import date
from functools import partial

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
