"""Our WhatsApp channel against Rasa's REST channel, side by side, on the
same stack and model in the same run: what the connector itself costs.

`--concurrency` conversations (20) each send their share of `--messages`
(200) citizen questions back to back (greetings, thanks, "are you a bot?",
opening hours, in Catalan, Spanish and English), once through Rasa's REST
channel (`POST /webhooks/rest/webhook`, the replies in the answer) and once
as signed MessageBird `message.created` webhooks to our channel (answered
once every reply was accepted by the simulator's `POST /v1/send`). The
simulator sends the delivery statuses of every reply (sent, delivered, read,
`--status-delays`) as in production: to Recorda's status receiver, not to
Rasa. Rounds alternate the two channels (`--rounds`, 2) so that drift on the
machine falls on both; each round uses new citizens. After each round the
benchmark waits for the round's last statuses (`--status-delays`' longest,
then until no more come) before the next one, so that every status is
counted, in CPU, with the round of the message it reports on, and none
lands in a round of the other channel.

    python -m bench.channel_overhead [--messages 200] [--concurrency 20] [--rounds 2]
        [--profile embedded|production] [--workers N]

Prints one JSON object on stdout: messages per second and latency per
channel, and `ratio_messages_per_second` (ours / REST; target >= 0.9). And
where the difference goes: each channel's CPU milliseconds a message, per
process of the stack, its waiting for the statuses included
(`cpu_ms_per_message`); their difference per process
(`connector_cpu_ms_per_message`); the provider calls and status webhooks a
message of our channel brings (`provider_sends_per_message`,
`status_webhooks_per_message`); and `cpu_ratio`, REST's CPU a message over
ours: on a machine whose cores are all busy, the ratio of messages per
second cannot be above it.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import time
import uuid
from typing import Dict, List, Optional

import aiohttp

from bench._common import (
    add_profile_arguments,
    bench_stack,
    cpu_delta,
    cpu_snapshot,
    machine,
    message_created,
    profile_figures,
    run_benchmark,
    signed_headers,
    summary_ms,
)

log = logging.getLogger("bench.channel_overhead")

TARGET_RATIO = 0.9
QUESTIONS = ("hola, bon dia", "moltes gràcies!", "ets un robot?", "a quina hora obriu?",
             "hola buenas", "muchas gracias", "¿eres un bot?", "¿a qué hora abrís?",
             "hello there", "thanks a lot", "are you a bot?", "what time do you open?")
CHANNELS = ("rest", "whatsapp")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.channel_overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200, help="messages per channel and round (200)")
    parser.add_argument("--concurrency", type=int, default=20, help="conversations at once (20)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each channel once per round (2)")
    parser.add_argument("--status-delays", default="0.5,1.5,4",
                        help="simulator's sent,delivered,read delays of each reply (0.5,1.5,4: flowing)")
    add_profile_arguments(parser)
    parser.add_argument("--keep-var", action="store_true", help="keep the temporary var dir and logs")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


class Sender:
    """Sends one message through one channel; the answer's latency or an error."""

    def __init__(self, session: aiohttp.ClientSession, stack, channel: str):
        self.session, self.channel = session, channel
        self.url = (f"{stack.rasa_url}/webhooks/rest/webhook" if channel == "rest" else stack.webhook_url)

    async def send(self, msisdn: str, conversation_id: str, text: str) -> Optional[str]:
        """None when the channel took the message and answered; else what went wrong."""
        if self.channel == "rest":
            async with self.session.post(self.url, json={"sender": msisdn, "message": text}) as resp:
                replies = await resp.json(content_type=None)
                return None if resp.status == 200 and replies else f"HTTP {resp.status}: {replies}"
        body = message_created(msisdn, conversation_id, f"contact-{msisdn.lstrip('+')}", "text", {"text": text})
        async with self.session.post(self.url, data=body, headers=signed_headers(self.url, body)) as resp:
            answer = await resp.json(content_type=None)
            return None if resp.status == 200 and answer.get("status") == "handled" else f"HTTP {resp.status}: {answer}"


async def one_round(sender: Sender, messages: int, concurrency: int, first_number: int) -> Dict:
    """`messages` spread over `concurrency` conversations, each back to back."""
    latencies: List[float] = []
    errors: List[str] = []

    async def conversation(index: int, count: int) -> None:
        msisdn = f"+3469{first_number + index:07d}"
        conversation_id = uuid.uuid4().hex
        for i in range(count):
            started = time.perf_counter()
            try:
                error = await sender.send(msisdn, conversation_id, QUESTIONS[(index + i) % len(QUESTIONS)])
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                error = repr(exc)
            if error:
                errors.append(error[:300])
            else:
                latencies.append(time.perf_counter() - started)

    shares = [messages // concurrency + (1 if i < messages % concurrency else 0) for i in range(concurrency)]
    started = time.perf_counter()
    await asyncio.gather(*(conversation(i, n) for i, n in enumerate(shares)))
    seconds = time.perf_counter() - started
    return {"messages": messages, "answered": len(latencies), "errors": len(errors),
            "first_errors": errors[:3], "seconds": round(seconds, 3),
            "messages_per_second": round(len(latencies) / seconds, 1) if seconds else None,
            "latency": summary_ms(latencies), "_latencies": latencies}


async def status_webhooks(session: aiohttp.ClientSession, stack) -> int:
    async with session.get(f"{stack.simulator_url}/sim/webhooks") as resp:
        log_ = await resp.json()
    return sum(1 for entry in log_ if entry.get("type") in ("message.updated", "status"))


async def provider_sends(session: aiohttp.ClientSession, stack) -> int:
    """The messages Recorda has sent through the simulator so far."""
    async with session.get(f"{stack.simulator_url}/sim/messages") as resp:
        messages = await resp.json()
    return sum(1 for message in messages if message.get("direction") == "sent")


async def statuses_settled(session: aiohttp.ClientSession, stack, status_delays: str,
                           quiet: float = 0.5, limit: float = 30.0) -> int:
    """Waits out the latest status of the round's last reply, then until no
    status webhook has come for `quiet` seconds; the status webhooks so far."""
    await asyncio.sleep(max(float(d) for d in status_delays.split(",")) + quiet)
    count, waited = await status_webhooks(session, stack), 0.0
    while waited < limit:
        await asyncio.sleep(quiet)
        waited += quiet
        now = await status_webhooks(session, stack)
        if now == count:
            break
        count = now
    return count


async def run(args: argparse.Namespace) -> dict:
    with bench_stack(0, args.status_delays, args.keep_var, profile=args.profile, workers=args.workers,
                     rest_channel=True) as stack:
        timeout = aiohttp.ClientTimeout(total=60)
        # Each request on a new connection, for both channels, as nginx sends
        # webhooks to Rasa (deploy/nginx/recorda.conf keeps none to its workers).
        connector = aiohttp.TCPConnector(limit=args.concurrency * 2, force_close=True)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            senders = {channel: Sender(session, stack, channel) for channel in CHANNELS}
            # Warm-up: each channel's first messages load what Rasa loads lazily.
            for channel in CHANNELS:
                await one_round(senders[channel], 20, 4, first_number=9_000_000 + 100 * CHANNELS.index(channel))
            await statuses_settled(session, stack, args.status_delays)
            rounds: List[Dict] = []
            cpu: Dict[str, Dict[str, float]] = {channel: {} for channel in CHANNELS}
            for number in range(args.rounds):
                order = CHANNELS if number % 2 == 0 else tuple(reversed(CHANNELS))
                for channel in order:
                    before_statuses = await status_webhooks(session, stack)
                    before_sends = await provider_sends(session, stack)
                    before_cpu = cpu_snapshot(stack)
                    figures = await one_round(senders[channel], args.messages, args.concurrency,
                                              first_number=1_000_000 * (number + 1) + 10_000 * CHANNELS.index(channel))
                    during = await status_webhooks(session, stack)
                    settled = await statuses_settled(session, stack, args.status_delays)
                    for name, seconds in cpu_delta(before_cpu, cpu_snapshot(stack)).items():
                        cpu[channel][name] = round(cpu[channel].get(name, 0.0) + seconds, 2)
                    figures["status_webhooks_during_round"] = during - before_statuses
                    figures["status_webhooks_after_round"] = settled - during
                    figures["provider_sends"] = await provider_sends(session, stack) - before_sends
                    log.info("round %d, %s: %.1f messages/s, p95 %s ms, %d errors", number + 1, channel,
                             figures["messages_per_second"] or 0, figures["latency"]["p95_ms"], figures["errors"])
                    rounds.append({"round": number + 1, "channel": channel, **figures})
    per_channel = {}
    for channel in CHANNELS:
        mine = [r for r in rounds if r["channel"] == channel]
        answered = sum(r["answered"] for r in mine)
        seconds = sum(r["seconds"] for r in mine)
        statuses = sum(r["status_webhooks_during_round"] + r["status_webhooks_after_round"] for r in mine)
        sends = sum(r["provider_sends"] for r in mine)
        per_channel[channel] = {
            "messages_per_second": round(answered / seconds, 1) if seconds else None,
            "latency": summary_ms([x for r in mine for x in r["_latencies"]]),
            "errors": sum(r["errors"] for r in mine),
            "status_webhooks": statuses,
            "status_webhooks_per_message": round(statuses / answered, 2) if answered else None,
            "provider_sends_per_message": round(sends / answered, 2) if answered else None,
            "cpu_seconds": cpu[channel],
            "cpu_ms_per_message": per_message_ms(cpu[channel], answered),
        }
    for r in rounds:
        del r["_latencies"]
    rest, ours = per_channel["rest"]["messages_per_second"], per_channel["whatsapp"]["messages_per_second"]
    ratio = round(ours / rest, 3) if rest and ours else None
    rest_cpu, our_cpu = per_channel["rest"]["cpu_ms_per_message"], per_channel["whatsapp"]["cpu_ms_per_message"]
    return {
        "benchmark": "channel_overhead",
        **profile_figures(args),
        "messages_per_round": args.messages,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "status_delays": args.status_delays,
        "rest": per_channel["rest"],
        "whatsapp": per_channel["whatsapp"],
        "ratio_messages_per_second": ratio,
        "connector_cpu_ms_per_message": {name: round(our_cpu[name] - rest_cpu.get(name, 0.0), 2)
                                         for name in our_cpu},
        "cpu_ratio": (round(rest_cpu[TOTAL] / our_cpu[TOTAL], 3)
                      if rest_cpu.get(TOTAL) and our_cpu.get(TOTAL) else None),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio is not None and ratio >= TARGET_RATIO,
        "per_round": rounds,
        "machine": machine(),
    }


TOTAL = "all processes"


def per_message_ms(cpu_seconds: Dict[str, float], messages: int) -> Dict[str, float]:
    """CPU milliseconds a message, per process and for all of them."""
    if not messages:
        return {}
    figures = {name: round(1000 * seconds / messages, 2) for name, seconds in cpu_seconds.items()}
    figures[TOTAL] = round(1000 * sum(cpu_seconds.values()) / messages, 2)
    return figures


def _passed(result: dict) -> bool:
    return result["rest"]["errors"] == 0 and result["whatsapp"]["errors"] == 0


def main(argv=None) -> int:
    return run_benchmark("channel_overhead", parse_args(argv), run, _passed)


if __name__ == "__main__":
    raise SystemExit(main())
