"""The sandbox booking service: the reference booking REST API
(bot/booking/openapi.yaml) on SQLite, plus a live board page for demos.

    python -m bot.dev.sandbox.booking_service --host 127.0.0.1 --port 8081 \\
        --db var/booking.db --token sandbox-booking-token [--reseed] [--bench-appointments N]

`RECORDA_BOOKING_TOKEN`, when set, overrides --token so that the service and
the bot (bot.foundation.settings.Settings) read the same value.

Besides /api/v1 it serves `GET /` (the board: appointments per office and day,
refreshed every 2 s) and sandbox-only hooks under /sandbox/: `POST
/sandbox/outage {"down": true|false}`, `GET /sandbox/health` and
`GET /sandbox/board` (the board fragment the page polls).
"""
from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
from datetime import date, datetime, time, timedelta, timezone
from functools import partial
from html import escape
from pathlib import Path
from typing import Callable, List, Optional

from sanic import Sanic, response
from sanic.exceptions import SanicException
from sqlalchemy import and_, create_engine, func, inspect, select
from sqlalchemy.engine import Engine

import bot.foundation.clock
from bot.foundation.languages import LANGUAGES
from bot.booking import ACTIVE_STATUSES, ATTENDED, CANCELLED, CONFIRMED, NO_SHOW
from bot.foundation.phone import to_e164
from bot.dev.sandbox.booking_seed import (
    MADRID, SEED_VERSION, appointments, booking_link, is_service_day, next_service_day, offices,
    procedures, seed, seed_version, service_days_after,
)

APP_NAME = "recorda_booking_sandbox"
API_PREFIX = "/api/v1"
BOARD_SERVICE_DAYS = 5  # days shown on the board after today

logger = logging.getLogger(__name__)

NowFn = Callable[[], datetime]


class ApiError(Exception):
    """An error answered with the API's JSON error envelope."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_dumps = partial(json.dumps, ensure_ascii=False)


def json_response(body, status: int = 200):
    return response.json(body, status=status, dumps=_dumps)


def error_response(status: int, code: str, message: str):
    return json_response({"error": {"code": code, "message": message}}, status=status)


# --- storage -----------------------------------------------------------------

def open_database(db_path: str, today: date, reseed: bool = False,
                  bench_appointments: int = 0) -> Engine:
    """The engine of the sandbox database, seeded on first use or on request."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{db_path}", future=True)
    # A benchmark needs a known state, so asking for bench data reseeds; so
    # does data seeded days ago, or the demo would have nothing to remind of.
    if reseed or bench_appointments or not inspect(engine).has_table("appointments") \
            or _is_stale(engine, today):
        seed(engine, today, bench_appointments)
    return engine


def _is_stale(engine: Engine, today: date) -> bool:
    """True when no appointment is left on the next service day, or an older
    seed made the data."""
    if seed_version(engine) != SEED_VERSION:
        return True
    first = datetime.combine(next_service_day(today), datetime.min.time())
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(appointments)
                             .where(appointments.c.starts_at >= first)
                             .where(appointments.c.starts_at < first + timedelta(days=1))).scalar()
    return count == 0


def _local(wall_clock: datetime) -> datetime:
    return wall_clock.replace(tzinfo=MADRID)


def _stamp(naive_utc: Optional[datetime]) -> Optional[str]:
    if naive_utc is None:
        return None
    return naive_utc.replace(tzinfo=timezone.utc).astimezone(MADRID).isoformat()


def _day_range(first: date, last: date):
    """A filter for appointments from `first` to `last`, both included."""
    start = datetime.combine(first, time())
    end = datetime.combine(last + timedelta(days=1), time())
    return and_(appointments.c.starts_at >= start, appointments.c.starts_at < end)


def appointment_json(row) -> dict:
    return {
        "id": row.id, "office_id": row.office_id, "procedure_id": row.procedure_id,
        "starts_at": _local(row.starts_at).isoformat(), "duration_minutes": row.duration_minutes,
        "citizen_name": row.citizen_name, "phone": row.phone, "language": row.language,
        "status": row.status, "confirmed_at": _stamp(row.confirmed_at),
        "cancelled_at": _stamp(row.cancelled_at), "attended_at": _stamp(row.attended_at),
    }


def office_json(row) -> dict:
    return {"id": row.id, "name": row.name, "address": row.address, "map_url": row.map_url,
            "phone": row.phone, "opening_hours": row.opening_hours,
            "late_policy_minutes": row.late_policy_minutes}


def procedure_json(row) -> dict:
    return {"id": row.id, "name": row.name, "documents_url": row.documents_url}


class Store:
    """The booking rules on top of SQLite. Calls are short and local, so
    handlers run them directly on the event loop."""

    def __init__(self, engine: Engine, now_fn: NowFn):
        self.engine = engine
        self.now = now_fn

    def _utcnow(self) -> datetime:
        return self.now().astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)

    def _all(self, query) -> list:
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def _one(self, table, key: str, what: str):
        rows = self._all(select(table).where(table.c.id == key))
        if not rows:
            raise ApiError(404, "not_found", f"No {what} with id {key!r}.")
        return rows[0]

    def offices(self) -> List[dict]:
        return [office_json(r) for r in self._all(select(offices).order_by(offices.c.id))]

    def office(self, office_id: str) -> dict:
        return office_json(self._one(offices, office_id, "office"))

    def procedures(self) -> List[dict]:
        return [procedure_json(r) for r in self._all(select(procedures).order_by(procedures.c.id))]

    def procedure(self, procedure_id: str) -> dict:
        return procedure_json(self._one(procedures, procedure_id, "procedure"))

    def day_appointments(self, day: date, office_id: str) -> List[dict]:
        self._one(offices, office_id, "office")  # an unknown office is a 404, not an empty day
        query = (select(appointments)
                 .where(_day_range(day, day), appointments.c.office_id == office_id)
                 .order_by(appointments.c.starts_at, appointments.c.id))
        return [appointment_json(r) for r in self._all(query)]

    def upcoming(self, phone_e164: str, from_day: date) -> List[dict]:
        query = (select(appointments)
                 .where(appointments.c.phone_e164 == phone_e164,
                        appointments.c.status.in_(ACTIVE_STATUSES),
                        appointments.c.starts_at >= datetime.combine(from_day, time()))
                 .order_by(appointments.c.starts_at, appointments.c.id))
        return [appointment_json(r) for r in self._all(query)]

    def appointment(self, appointment_id: str) -> dict:
        return appointment_json(self._one(appointments, appointment_id, "appointment"))

    def _has_started(self, row) -> bool:
        return _local(row.starts_at) <= self.now()

    def confirm(self, appointment_id: str) -> dict:
        row = self._one(appointments, appointment_id, "appointment")
        if row.status == CONFIRMED:
            return appointment_json(row)
        if row.status == CANCELLED:
            raise ApiError(409, "not_confirmable", "The appointment was cancelled.")
        if row.status in (ATTENDED, NO_SHOW):
            raise ApiError(409, "not_confirmable", "Attendance has already been recorded.")
        if self._has_started(row):
            raise ApiError(409, "not_confirmable", "The appointment time has passed.")
        return self._update(appointment_id, status=CONFIRMED, confirmed_at=self._utcnow())

    def cancel(self, appointment_id: str) -> dict:
        row = self._one(appointments, appointment_id, "appointment")
        if row.status == CANCELLED:
            return appointment_json(row)
        if row.status in (ATTENDED, NO_SHOW):
            raise ApiError(409, "not_cancellable", "Attendance has already been recorded.")
        if self._has_started(row):
            raise ApiError(409, "not_cancellable", "The appointment time has passed.")
        return self._update(appointment_id, status=CANCELLED, cancelled_at=self._utcnow())

    def record_attendance(self, appointment_id: str, attended: bool) -> dict:
        row = self._one(appointments, appointment_id, "appointment")
        status = ATTENDED if attended else NO_SHOW
        if row.status == status:
            return appointment_json(row)
        if row.status == CANCELLED:
            raise ApiError(409, "attendance_not_recordable", "The appointment was cancelled.")
        if not self._has_started(row):
            raise ApiError(409, "attendance_not_recordable", "The appointment has not started yet.")
        # A correction (attended <-> no-show) replaces the earlier record.
        return self._update(appointment_id, status=status,
                            attended_at=self._utcnow() if attended else None)

    def _update(self, appointment_id: str, **values) -> dict:
        with self.engine.begin() as conn:
            conn.execute(appointments.update().where(appointments.c.id == appointment_id).values(**values))
        return self.appointment(appointment_id)

    def board_rows(self, days: List[date]) -> list:
        query = (select(appointments, procedures.c.name.label("procedure_name"))
                 .join(procedures, procedures.c.id == appointments.c.procedure_id)
                 .where(_day_range(days[0], days[-1]))
                 .order_by(appointments.c.starts_at, appointments.c.id))
        return self._all(query)

    def office_rows(self) -> list:
        return self._all(select(offices).order_by(offices.c.id))


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


# --- sandbox hooks and the board --------------------------------------------------

async def health(request):
    return json_response({"status": "ok", "down": request.app.ctx.down})


async def set_outage(request):
    request.app.ctx.down = _bool_field(request, "down")
    logger.warning("sandbox outage %s", "ON" if request.app.ctx.down else "off")
    return json_response({"down": request.app.ctx.down})


async def board_page(request):
    return response.html(PAGE.replace("<!--board-->", render_board(request.app.ctx)))


async def board_fragment(request):
    return response.html(render_board(request.app.ctx), headers={"Cache-Control": "no-store"})


def _time_of(naive_utc: Optional[datetime], today: date) -> str:
    if naive_utc is None:
        return ""
    local = naive_utc.replace(tzinfo=timezone.utc).astimezone(MADRID)
    return local.strftime("%H:%M:%S" if local.date() == today else "%d/%m %H:%M")


def _row_html(row, today: date) -> str:
    stamps = [f"{label} {_time_of(value, today)}" for label, value in
              (("confirmed", row.confirmed_at), ("cancelled", row.cancelled_at),
               ("attended", row.attended_at)) if value]
    return (f'<tr id="{escape(row.id)}" data-status="{row.status}" class="{row.status}">'
            f"<td>{row.starts_at:%H:%M}</td><td>{escape(row.id)}</td>"
            f"<td>{escape(row.citizen_name)}</td><td>{escape(row.phone) or '—'}</td>"
            f"<td>{row.language}</td><td>{escape(row.procedure_name.get('ca', ''))}</td>"
            f'<td><span class="badge">{row.status}</span></td><td>{", ".join(stamps)}</td></tr>')


def _office_html(office, rows, today: date) -> str:
    header = f"<h3>{escape(office.name)} <small>{escape(office.address)}</small></h3>"
    if not rows:
        return header + '<p class="empty">No appointments.</p>'
    body = "".join(_row_html(r, today) for r in rows)
    return (header + "<table><thead><tr><th>Time</th><th>Id</th><th>Citizen</th><th>Phone</th>"
            "<th>Lang</th><th>Procedure</th><th>Status</th><th>Timestamps</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _day_html(day: date, today: date, office_rows, rows) -> str:
    label = "today" if day == today else ("next service day" if day == next_service_day(today) else "")
    offices_html = "".join(
        _office_html(o, [r for r in rows if r.office_id == o.id and r.starts_at.date() == day], today)
        for o in office_rows)
    return f"<section><h2>{day:%A} {day.day} {day:%B %Y} <small>{label}</small></h2>{offices_html}</section>"


def render_board(ctx) -> str:
    """Today (when offices open) and the next service days, per office."""
    store: Store = ctx.store
    now = store.now().astimezone(MADRID)
    today = now.date()
    days = ([today] if is_service_day(today) else []) + service_days_after(today, BOARD_SERVICE_DAYS)
    rows, office_rows = store.board_rows(days), store.office_rows()
    outage = '<p class="down">Outage simulated: the API answers 503.</p>' if ctx.down else ""
    return (f'<p class="updated">Updated {now:%H:%M:%S}</p>{outage}'
            + "".join(_day_html(day, today, office_rows, rows) for day in days))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Vilademar booking sandbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 small, h2 small, h3 small { color: #777; font-weight: normal; font-size: 0.8em; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; font-size: 0.9rem; table-layout: fixed; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #ddd; overflow: hidden; }
/* Same column widths in every table, so the days line up. */
th:nth-child(1) { width: 3.5rem; } th:nth-child(2) { width: 9rem; } th:nth-child(3) { width: 12rem; }
th:nth-child(4) { width: 8.5rem; } th:nth-child(5) { width: 2.5rem; } th:nth-child(7) { width: 6rem; }
th:nth-child(8) { width: 11rem; }
.badge { padding: 0.1rem 0.4rem; border-radius: 0.3rem; background: #eee; }
tr.confirmed { background: #e3f6e5; } tr.confirmed .badge { background: #2e7d32; color: #fff; }
tr.cancelled { background: #fde8e8; } tr.cancelled td:nth-child(-n+6) { text-decoration: line-through; }
tr.cancelled .badge { background: #c62828; color: #fff; }
tr.attended .badge { background: #1565c0; color: #fff; } tr.no_show .badge { background: #6d4c41; color: #fff; }
tr.changed { animation: flash 1.5s ease-out; }
@keyframes flash { from { background: #fff176; } }
.down { background: #c62828; color: #fff; padding: 0.5rem; }
.updated, .empty { color: #777; }
</style></head>
<body>
<h1>Ajuntament de Vilademar <small>booking sandbox: appointments per office</small></h1>
<div id="board"><!--board--></div>
<script>
// Polls the board and flashes the rows whose status changed since the last poll.
const seen = new Map();
function markChanges() {
  document.querySelectorAll("tr[data-status]").forEach(function (row) {
    if (seen.has(row.id) && seen.get(row.id) !== row.dataset.status) row.classList.add("changed");
    seen.set(row.id, row.dataset.status);
  });
}
async function refresh() {
  try {
    const res = await fetch("/sandbox/board", {cache: "no-store"});
    if (res.ok) { document.getElementById("board").innerHTML = await res.text(); markChanges(); }
  } catch (e) { /* the service is restarting: try again at the next tick */ }
}
markChanges();
setInterval(refresh, 2000);
</script>
</body></html>
"""


# --- the app -------------------------------------------------------------------------

def _authorised(request, token: str) -> bool:
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _error_parts(exc: Exception) -> tuple:
    """(status, code, message) of any exception a handler lets out."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, SanicException):
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
        return exc.status_code, codes.get(exc.status_code, "error"), str(exc)
    logger.exception("unexpected error", exc_info=exc)
    return 500, "internal_error", "Unexpected error in the booking service."


def create_app(db_path: str, token: str, now_fn: Optional[NowFn] = None, *,
               reseed: bool = False, bench_appointments: int = 0, name: str = APP_NAME) -> Sanic:
    """The sandbox app. `now_fn` (aware datetime) lets tests move the clock;
    `name` must be unique per process (Sanic keeps a registry of apps)."""
    now_fn = now_fn or (lambda: bot.foundation.clock.now(MADRID))
    today = now_fn().astimezone(MADRID).date()
    app = Sanic(name)
    app.ctx.store = Store(open_database(db_path, today, reseed, bench_appointments), now_fn)
    app.ctx.down = False

    for method, path, handler in API_ROUTES:
        app.add_route(handler, API_PREFIX + path, methods=[method])
    app.add_route(board_page, "/", methods=["GET"])
    app.add_route(board_fragment, "/sandbox/board", methods=["GET"])
    app.add_route(health, "/sandbox/health", methods=["GET"])
    app.add_route(set_outage, "/sandbox/outage", methods=["POST"])

    @app.middleware("request")
    async def guard_api(request):
        if not request.path.startswith(API_PREFIX + "/"):
            return None
        if request.app.ctx.down:
            return error_response(503, "unavailable", "The booking system is down (sandbox outage).")
        if not _authorised(request, token):
            return error_response(401, "unauthorized", "Missing or invalid bearer token.")
        return None

    @app.exception(Exception)
    async def on_error(request, exc):
        return error_response(*_error_parts(exc))

    return app


def _parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Recorda sandbox booking service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--db", default="var/booking.db")
    parser.add_argument("--token", default="sandbox-booking-token")
    parser.add_argument("--reseed", action="store_true", help="replace the data with a fresh seed for today")
    parser.add_argument("--bench-appointments", type=int, default=0, metavar="N",
                        help="reseed with N extra appointments on the next service day")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = _parse_args(argv)
    token = os.environ.get("RECORDA_BOOKING_TOKEN") or args.token
    app = create_app(args.db, token, reseed=args.reseed, bench_appointments=args.bench_appointments)
    app.run(host=args.host, port=args.port, access_log=False, motd=False)


if __name__ == "__main__":
    main()
