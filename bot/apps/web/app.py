"""The Sanic app: one Blueprint per audience. `/c` is the citizen's page of a
personal link (bot.apps.web.citizen); `/console` is the staff console
(bot.apps.web.console). `GET /health` is for the process manager."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Optional

from sanic import Sanic, response

from bot.apps.web.citizen import CitizenServices, citizen_blueprint
from bot.apps.web.console import console_blueprint
from bot.apps.web.console.services import ConsoleServices
from bot.booking import BookingSystem
from bot.booking.outbox import BookingOutbox
from bot.booking.rest import RestBookingSystem, booking_system_from_settings
from bot.citizens.links import CitizenLinks, UsedLinks
from bot.foundation.settings import Settings
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

    @app.get("/health")
    async def health(request):
        return response.json({"status": "ok"})

    if own_booking:
        @app.after_server_stop
        async def close_booking(app, loop):
            await booking.close()
            await console_booking.close()

    return app
