"""The WhatsApp simulator as a Sanic app: the provider API the channel
calls (the edge of the provider played, bot/dev/sandbox/provider_edge.py,
and the SMS API of bot/dev/sandbox/sms_center.py), the citizen's phone
(`/sim/reply`), the test and inspection API under /sim/, and the phone-like
page at `/`; all but the provider edge are the same for every provider."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import aiohttp
from sanic import Sanic, response
from sanic.exceptions import MethodNotSupported, NotFound

from bot.dev.sandbox.citizen_behaviour import Profile, ProfileError, describe_profile
from bot.dev.sandbox.provider_api import ApiError
from bot.dev.sandbox.provider_api import field as _field
from bot.dev.sandbox.provider_api import invalid as _invalid
from bot.dev.sandbox.provider_api import json_body as _json_body
from bot.dev.sandbox.provider_edge import ProviderEdge
from bot.dev.sandbox.sms_center import ROUTES as SMS_ROUTES
from bot.dev.sandbox.whatsapp_checks import msisdn_of
from bot.dev.sandbox.whatsapp_messages import new_id
from bot.dev.sandbox.whatsapp_platform import Simulator
from bot.dev.sandbox.whatsapp_webhooks import WEBHOOK_TIMEOUT, WebhookSender
from bot.messaging.templates import load_templates

STATIC_DIR = Path(__file__).resolve().parent / "static"
FAULT_STATUSES = (429, 500, 503)  # each edge answers them in its provider's shape


def _sim(request) -> Simulator:
    return request.app.ctx.sim


async def _api_error(request, exc: ApiError):
    return exc.response()


async def _http_error(request, exc):
    return _sim(request).edge.http_error(exc.status_code, str(exc)).response()


# ---------------------------------------------------------- the citizen side

async def citizen_reply(request):
    """The phone: {msisdn, text | button:{message_id, index} | media, deliveries?}."""
    message, statuses = await _sim(request).reply(_json_body(request))
    return response.json({"message": message, "webhook_statuses": statuses})


# ---------------------------------------------------- tests and inspection

async def list_messages(request):
    sim = _sim(request)
    if request.args.get("msisdn") is None:
        return response.json([sim.describe(m) for m in sim.messages.values()])
    return response.json(sim.phone_thread(msisdn_of(request.args.get("msisdn"))))


async def list_contacts(request):
    return response.json(_sim(request).contact_list())


async def add_no_whatsapp(request):
    msisdn = msisdn_of(_json_body(request).get("msisdn"))
    _sim(request).no_whatsapp.add(msisdn)
    return response.json({"msisdn": msisdn, "has_whatsapp": False})


async def arm_faults(request):
    """The next `count` sends fail with `status` (0 disarms)."""
    body = _json_body(request)
    status = _field(body, "status", "status", int)
    count = _field(body, "count", "count", int)
    if status not in FAULT_STATUSES or count < 0:
        raise _invalid("status", f"status must be one of {sorted(FAULT_STATUSES)}, count >= 0")
    sim = _sim(request)
    sim.fault_status, sim.fault_count = status, count
    return response.json({"status": status, "count": count})


def _behaviour_view(sim: Simulator) -> dict:
    profile = sim.replay.profile
    return {**profile.to_dict(), "behaviours": describe_profile(profile) if profile.active else []}


async def get_behaviour(request):
    """The citizens' profile; with ?msisdn=, also that number's behaviour and
    how it answers the offer of a freed slot."""
    sim = _sim(request)
    view = _behaviour_view(sim)
    if request.args.get("msisdn") is not None:
        msisdn = msisdn_of(request.args.get("msisdn"))
        behaviour = sim.replay.behaviour(msisdn)
        view["number"] = {"msisdn": msisdn, "behaviour": behaviour.name if behaviour else None,
                          "offer_answer": sim.replay.offer_answer(msisdn),
                          "has_whatsapp": sim.has_whatsapp(msisdn)}
    return response.json(view)


async def set_behaviour(request):
    """{"profile": "realistic"|"manual", "time_scale"?, "seed"?, "shares"?, "offer_shares"?}."""
    sim = _sim(request)
    try:
        profile = Profile.from_dict(_json_body(request))
    except ProfileError as exc:
        raise _invalid("profile", str(exc)) from None
    sim.replay.configure(profile)
    return response.json(_behaviour_view(sim))


async def reset(request):
    _sim(request).reset()
    return response.json({"status": "reset"})


async def health(request):
    sim = _sim(request)
    return response.json({"status": "ok", "provider": sim.edge.name, "channelId": sim.channel_id,
                          "webhookUrl": sim.webhooks.url, "statusWebhookUrl": sim.webhooks.status_url,
                          "messages": len(sim.messages)})


async def webhook_log(request):
    return response.json(_sim(request).webhooks.log)


async def phone_page(request):
    return await response.file(STATIC_DIR / "index.html")


ROUTES = [
    (citizen_reply, "/sim/reply", "POST"),
    (list_messages, "/sim/messages", "GET"),
    (list_contacts, "/sim/contacts", "GET"),
    (add_no_whatsapp, "/sim/no-whatsapp", "POST"),
    (arm_faults, "/sim/faults", "POST"),
    (get_behaviour, "/sim/behaviour", "GET"),
    (set_behaviour, "/sim/behaviour", "POST"),
    (reset, "/sim/reset", "POST"),
    (health, "/sim/health", "GET"),
    (webhook_log, "/sim/webhooks", "GET"),
    (phone_page, "/", "GET"),
]


def create_app(access_key: str, edge: ProviderEdge, webhook_url: str,
               status_delays: Tuple[float, float, float] = (0.5, 1.5, 4.0),
               name: Optional[str] = None, citizens: Optional[Profile] = None,
               status_webhook_url: Optional[str] = None, redeliver: bool = False) -> Sanic:
    """The simulator as a Sanic app, playing `edge`'s provider; `access_key`
    opens the SMS API; `name` must be unique in the process; `citizens` is
    the behaviour profile it starts (and resets) with; the statuses'
    webhooks go to `status_webhook_url` if given, else to `webhook_url`;
    `redeliver`: webhooks the bot did not take are delivered again later."""
    # Logging is the host process's business (main() or whoever embeds the app).
    app = Sanic(name or f"whatsapp_simulator_{new_id()[:8]}", configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    webhooks = WebhookSender(webhook_url, edge.webhook_headers, status_webhook_url, redeliver)
    app.ctx.access_key = access_key
    app.ctx.sim = Simulator(edge, (*status_delays,), load_templates(), webhooks, citizens)
    app.ctx.sms = app.ctx.sim.sms
    for handler, uri, method in edge.routes() + ROUTES + SMS_ROUTES:
        app.add_route(handler, uri, methods=[method])
    app.static("/static", STATIC_DIR)
    app.exception(ApiError)(_api_error)
    app.exception(NotFound, MethodNotSupported)(_http_error)

    @app.before_server_start
    async def open_session(app, loop):
        webhooks.session = aiohttp.ClientSession(timeout=WEBHOOK_TIMEOUT)

    @app.after_server_stop
    async def close_session(app, loop):
        app.ctx.sim.reset()
        if webhooks.session is not None:
            await webhooks.session.close()

    return app
