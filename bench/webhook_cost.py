"""What one delivery-status webhook costs in CPU, on each side of the HTTP
exchange: the unit under our channel's extra cost per message
(bench/channel_overhead.py counts how many of them a message brings).

Starts a stack of `--profile` and POSTs `--requests` signed MessageBird
`message.updated` webhooks, one after the other, to Recorda's status
receiver: statuses of the assistant's replies (free-form messages, answered
"ignored" after the signature check and the parse) and of templates (their
receipt and status written to the database), on one kept connection and on
a new connection each. Then the same POSTs to a bare Sanic route that only
answers, in a process of its own: the least any Python HTTP server of this
stack can cost. The client's CPU (this process: signing, aiohttp) is the
provider's side, which the simulator plays in the other benchmarks.

    python -m bench.webhook_cost [--requests 2000] [--profile embedded|production]

Prints one JSON object: CPU microseconds a webhook, for the receiving
process and for the client, per case.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Dict

import aiohttp

from bench._common import (
    SIGNATURE_HEADER,
    _tree_cpu_seconds,
    add_profile_arguments,
    bench_stack,
    machine,
    profile_figures,
    run_benchmark,
)
from bot.dev import processes
from bot.dev.processes import free_port
from bot.dev.stack import SANDBOX_SIGNING_KEY
from connectors.messagebird_signature import sign_webhook

WARM_UP = 100


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="webhooks per case (2000)")
    add_profile_arguments(parser)
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def status_body(message_type: str) -> bytes:
    """A `message.updated` of a message Recorda sent, as the simulator sends it."""
    stamp = "2026-12-08T10:00:01.000000Z"
    message = {"id": uuid.uuid4().hex, "conversationId": "bench", "channelId": "bench", "platform": "whatsapp",
               "to": "+34600000001", "from": "bench", "direction": "sent", "status": "delivered",
               "type": message_type, "content": {"text": "Obrim de 8.30 a 14.30 h."},
               "createdDatetime": stamp, "updatedDatetime": stamp}
    return json.dumps({"type": "message.updated",
                       "contact": {"id": "bench", "msisdn": 34600000001, "displayName": "Bench"},
                       "conversation": {"id": "bench", "contactId": "bench", "status": "active",
                                        "createdDatetime": stamp, "updatedDatetime": stamp},
                       "message": message}).encode("utf-8")


async def measure(url: str, server_pid: int, requests: int, new_connection: bool,
                  body: Callable[[], bytes]) -> Dict[str, float]:
    """CPU microseconds a webhook, of the server's process tree and of this client."""
    connector = aiohttp.TCPConnector(force_close=new_connection)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def post() -> None:
            raw = body()
            headers = {SIGNATURE_HEADER: sign_webhook(SANDBOX_SIGNING_KEY, url, raw),
                       "Content-Type": "application/json"}
            async with session.post(url, data=raw, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{url} answered {resp.status}")
        for _ in range(WARM_UP):
            await post()
        server_before, client_before = _tree_cpu_seconds(server_pid), time.process_time()
        for _ in range(requests):
            await post()
        server = _tree_cpu_seconds(server_pid) - server_before
        client = time.process_time() - client_before
    return {"server_cpu_us": round(1e6 * server / requests), "client_cpu_us": round(1e6 * client / requests)}


def serve_bare(port: int) -> None:
    """A route that answers a POST and does nothing else (Sanic as Rasa ships it)."""
    from sanic import Sanic, response

    app = Sanic("bench_bare_route", configure_logging=False)

    @app.post("/webhook")
    async def webhook(_request):
        return response.json({"status": "ignored"})

    @app.get("/health")
    async def health(_request):
        return response.json({"status": "ok"})

    app.run(host="127.0.0.1", port=port, access_log=False)


async def run(args: argparse.Namespace) -> dict:
    cases: Dict[str, Dict[str, float]] = {}
    with bench_stack(0, "600,610,620", profile=args.profile, workers=1) as stack:
        receiver = next(s for s in stack.services if s.name == "status receiver").process.pid
        url = f"http://127.0.0.1:{stack.ports.status_receiver}/webhooks/{stack.whatsapp_channel}/statuses"
        cases["reply status, kept connection"] = await measure(
            url, receiver, args.requests, False, lambda: status_body("text"))
        cases["reply status, new connection each"] = await measure(
            url, receiver, args.requests, True, lambda: status_body("text"))
        cases["template status, kept connection"] = await measure(
            url, receiver, args.requests, False, lambda: status_body("hsm"))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="recorda-bench-") as logs:
        bare = processes.start("bare Sanic route", [sys.executable, "-m", "bench.webhook_cost", "--serve-bare",
                                                    str(port)], Path(logs) / "bare-route.log")
        try:
            await asyncio.to_thread(processes.wait_healthy, bare, f"http://127.0.0.1:{port}/health", 30.0)
            bare_url = f"http://127.0.0.1:{port}/webhook"
            cases["bare Sanic route, kept connection"] = await measure(
                bare_url, bare.pid, args.requests, False, lambda: status_body("text"))
            cases["bare Sanic route, new connection each"] = await measure(
                bare_url, bare.pid, args.requests, True, lambda: status_body("text"))
        finally:
            processes.stop(bare.process)
    return {"benchmark": "webhook_cost", **profile_figures(args), "requests": args.requests,
            "cpu_us_per_webhook": cases, "machine": machine()}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    return run_benchmark("webhook_cost", args, run, lambda result: True)


if __name__ == "__main__":
    raise SystemExit(main())
