"""The Sanic app: one Blueprint per audience. `/c` is the citizen's page of a
personal link (bot.apps.web.citizen); `/console` is the staff console
(bot.apps.web.console). GET /health, /ready and /metrics are for operations
(docs/monitoring.md): on one host this app's /metrics also shows every other
Recorda process's metrics (RECORDA_METRICS_DIR) and the gauges counted from
the database."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import List, Optional

from sanic import Sanic

from bot.apps.operations import forget_worker_on_stop
from bot.apps.web.citizen import CitizenServices, citizen_blueprint
from bot.apps.web.console import console_blueprint
from bot.apps.web.console.services import ConsoleServices
from bot.booking import BookingSystem
from bot.booking.outbox import BookingOutbox
from bot.booking.outbox_metrics import OutboxDepth
from bot.booking.rest import RestBookingSystem, booking_system_from_settings
from bot.citizens.links import CitizenLinks, UsedLinks
from bot.foundation.health import Check, database_check, tcp_check
from bot.foundation.operations_routes import add_operations_routes
from bot.foundation.settings import Settings
from bot.reminders.metrics import RemindersByState
from bot.reminders.store import ReminderStore

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Optional[Settings] = None, booking: Optional[BookingSystem] = None,
               links: Optional[CitizenLinks] = None, name: Optional[str] = None) -> Sanic:
    """The web app. Everything defaults to what the environment configures
    (bot.foundation.settings.Settings); tests pass their own booking system or a
    CitizenLinks with a frozen clock. `name` must be unique in the process."""
    settings = settings or Settings.from_env()
    own_booking = booking is None
    booking = booking or booking_system_from_settings(settings)
    app = Sanic(name or f"recorda_web_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "html"
    # Forms and links only: nothing legitimate comes near 1 MB.
    app.config.REQUEST_MAX_SIZE = 1_000_000
    if settings.proxies_count:
        # Behind a reverse proxy: the client's address from X-Forwarded-For
        # (the console's sign-in limit counts by it).
        app.config.PROXIES_COUNT = settings.proxies_count
    app.ctx.citizen = CitizenServices(
        settings=settings, booking=booking, reminders=ReminderStore(settings.db_url),
        outbox=BookingOutbox(settings.db_url), used=UsedLinks(settings.db_url),
        links=links or CitizenLinks.from_settings(settings))
    app.blueprint(citizen_blueprint())
    # Staff wait at a page: the console's own client gives up sooner than the
    # citizen's (3 s, one retry) and shows what the stores know instead.
    console_booking = (RestBookingSystem(settings.booking_url, settings.booking_token, timeout=3.0, retries=1)
                       if own_booking else booking)
    app.ctx.console = ConsoleServices.from_settings(settings, console_booking)
    app.blueprint(console_blueprint(app.ctx.console))
    app.static("/static", STATIC_DIR)
    add_operations_routes(app, readiness_checks(settings), [
        RemindersByState(app.ctx.citizen.reminders), OutboxDepth(app.ctx.citizen.outbox)])
    forget_worker_on_stop(app)

    if own_booking:
        @app.after_server_stop
        async def close_booking(app, loop):
            await booking.close()
            await console_booking.close()

    return app


def readiness_checks(settings: Settings) -> List[Check]:
    """Recorda's database and the console's tracker store must answer; the
    booking system is reported only: while it is down the citizen's page
    queues the answer and the console shows what the stores know."""
    checks = [database_check(settings.db_url)]
    if settings.tracker_db_url:
        checks.append(database_check(settings.tracker_db_url, "tracker_store"))
    checks.append(tcp_check(settings.booking_url, "booking_system"))
    return checks
