"""Operations for a WhatsApp channel in Rasa's process: its webhook timed
(`recorda_webhook_duration_seconds{provider, kind}`, and how many calls are
being answered), and beside it, under /webhooks/<channel>/:

    GET ready     the channel is mounted, Rasa's model is loaded and the
                  database answers: 200, or 503 naming what is not
    GET metrics   Prometheus text: this process's metrics, or with
                  RECORDA_METRICS_DIR every process's of the host

Liveness is Rasa's own `GET /` (and the channel's `GET /webhooks/<channel>/`).
"""
from __future__ import annotations

import functools
import time
from typing import Any, Awaitable, Callable, Dict, Optional, Protocol

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.foundation import metrics
from bot.foundation.health import OK, database_check
from bot.foundation.operations_routes import add_operations_routes
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.reminders.store import ReminderStore

Receive = Callable[[Request], Awaitable[HTTPResponse]]
MODEL_NOT_LOADED = "not loaded"


class ObservedChannel(Protocol):
    reminders: Optional[ReminderStore]
    receipts: Optional[WebhookReceipts]

    def name(self) -> str:
        ...


def note_message_handed_over(request: Request) -> None:
    """The call being answered hands a citizen's message to the assistant:
    timed_webhook counts it as kind "message"."""
    request.ctx.recorda_message_handed_over = True


def handing_over(request: Request, on_new_message: Callable[[Any], Awaitable[Any]]):
    """`on_new_message`, noting each call on the request (note_message_handed_over)."""
    async def hand_over(message: Any) -> Any:
        note_message_handed_over(request)
        return await on_new_message(message)
    return hand_over


def webhook_kind(request: Request, status: int) -> str:
    if status >= 500:
        return metrics.WEBHOOK_ERROR
    if status >= 400:
        return metrics.WEBHOOK_REFUSED
    if getattr(request.ctx, "recorda_message_handed_over", False):
        return metrics.WEBHOOK_MESSAGE
    return metrics.WEBHOOK_STATUS


def model_readiness(request: Request) -> Dict[str, str]:
    """Rasa keeps its agent on the app (rasa.core.run.load_agent_on_start);
    an app without one is not Rasa's (the tests' harness): nothing to say."""
    if not hasattr(request.app.ctx, "agent"):
        return {}
    agent = request.app.ctx.agent
    return {"model": OK if agent is not None and agent.is_ready() else MODEL_NOT_LOADED}


def observed_webhook(webhook: Blueprint, channel: ObservedChannel) -> Callable[[Receive], Receive]:
    """Adds GET ready and metrics to the channel's blueprint, and returns the
    decorator that times its webhook route."""
    store = channel.receipts or channel.reminders
    checks = [database_check(store.engine)] if store is not None else []
    add_operations_routes(webhook, checks, health=False, known=model_readiness)

    @webhook.listener("after_server_stop")
    async def forget_worker(_app, _loop) -> None:  # a forked Sanic worker's live gauges
        metrics.forget_this_process()

    return timed_webhook(channel.name())


def timed_webhook(provider: str) -> Callable[[Receive], Receive]:
    """Decorates a webhook route of `provider`: each call observed in
    recorda_webhook_duration_seconds (its kind from the answer's status and
    handing_over) and counted in recorda_webhooks_in_progress while it runs."""
    def decorate(receive: Receive) -> Receive:
        @functools.wraps(receive)
        async def timed(request: Request) -> HTTPResponse:
            started = time.perf_counter()
            status = 500  # an exception escaping the route is answered with a 500
            try:
                with metrics.webhooks_in_progress(provider).track_inprogress():
                    response = await receive(request)
                status = response.status
                return response
            finally:
                metrics.observe_webhook(provider, webhook_kind(request, status), time.perf_counter() - started)
        return timed
    return decorate
