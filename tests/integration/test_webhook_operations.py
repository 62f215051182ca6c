"""Operations of a WhatsApp channel as Rasa serves it: each webhook call
observed in recorda_webhook_duration_seconds with its kind, and
/webhooks/<channel>/ready and /metrics beside the webhook (the real
MessageBird channel on a real Sanic server, tests/support/channel_harness.py)."""
from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.foundation import metrics
from tests.support.messagebird import Webhook, inbound, status


def observed(kind: str, provider: str = "messagebird") -> float:
    return metrics._REGISTRY.get_sample_value(
        "recorda_webhook_duration_seconds_count",
        {"process": metrics.process_name(), "provider": provider, "kind": kind}) or 0.0


@pytest.fixture
async def webhook(db_url):
    hook = await Webhook(db_url).start()
    yield hook
    await hook.stop()


async def get(url: str):
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_every_kind_of_webhook_call_is_timed(webhook):
    kinds = ("message", "status", "refused", "error")
    before = {kind: observed(kind) for kind in kinds}
    assert (await webhook.post(inbound("text", {"text": "a quina hora obriu?"}, message_id="m-1")))[0] == 200
    assert (await webhook.post(status("out-1", "delivered")))[0] == 200
    assert (await webhook.post(inbound("text", {"text": "hola"}), key="a-guessed-key-32-bytes-or-longer-x"))[0] == 401
    assert (await webhook.post(None, raw=b"{not json"))[0] == 400
    webhook.fail_next = True
    assert (await webhook.post(inbound("text", {"text": "confirmo"}, message_id="m-2")))[0] == 500
    assert {kind: observed(kind) - before[kind] for kind in kinds} == {
        "message": 1, "status": 1, "refused": 2, "error": 1}
    assert len(webhook.received) == 1


async def test_a_redelivered_message_is_not_counted_as_a_new_message(webhook):
    body = inbound("text", {"text": "confirmo"}, message_id="dup-1")
    assert (await webhook.post(body))[0] == 200
    before = observed("message"), observed("status")
    assert await webhook.post(body) == (200, {"status": "duplicate"})
    assert (observed("message"), observed("status")) == (before[0], before[1] + 1)


async def test_ready_and_metrics_beside_the_webhook(webhook):
    base = f"http://127.0.0.1:{webhook.port}{webhook.prefix}"
    await webhook.post(inbound("text", {"text": "hola"}, message_id="m-3"))
    code, _, body = await get(f"{base}/ready")
    assert code == 200 and '"database":"ok"' in body.replace(" ", "")
    code, content_type, text = await get(f"{base}/metrics")
    assert code == 200 and content_type.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["recorda_webhook_duration_seconds"].type == "histogram"
    assert any(s.labels.get("kind") == "message" for s in families["recorda_webhook_duration_seconds"].samples)


async def test_ready_is_503_while_rasas_model_is_not_loaded(webhook):
    class Agent:
        def __init__(self, ready: bool):
            self.ready = ready

        def is_ready(self) -> bool:
            return self.ready

    app = webhook.server.app
    base = f"http://127.0.0.1:{webhook.port}{webhook.prefix}"
    app.ctx.agent = None   # as in Rasa until load_agent_on_start has run
    code, _, body = await get(f"{base}/ready")
    assert code == 503 and "model" in body and "not loaded" in body
    app.ctx.agent = Agent(ready=True)
    code, _, body = await get(f"{base}/ready")
    assert code == 200 and '"model":"ok"' in body.replace(" ", "")
