"""Faults on the production profile (bot/dev/production.py: PostgreSQL, Redis,
two Rasa workers, two action-server workers), each ending with nothing lost
and nothing done twice:
* a Rasa worker killed during a dispatch of 1,000 reminders: a re-run of the
  job completes it, each citizen with exactly one reminder;
* PostgreSQL restarted during a dispatch: the same;
* Redis restarted while citizens tap: every tap is applied once;
* the booking system slow (5 s), then down, during a burst of taps: every
  answer reaches the booking system once it is back, and no citizen is told
  their appointment changed before it did.

The WhatsApp simulator redelivers a webhook that failed, as providers do."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

import pytest

from bot.dev.production import ProductionStack
from bot.dev.sandbox.booking_seed import MADRID
from bot.foundation.clock import now
from bot.foundation.settings import PROJECT_ROOT
from bot.offices.service_days import next_service_day
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.http_helpers import call, wait_for
from tests.support.phone_helpers import appointment_id_of, thread

pytestmark = pytest.mark.e2e
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
LEASE_SECONDS = 20    # RECORDA_INTERRUPTED_SEND_SECONDS for the re-runs
LOCK_SECONDS = 20     # Rasa's TICKET_LOCK_LIFETIME: a dead worker's conversation locks expire
BOOKING = {"Authorization": "Bearer sandbox-booking-token"}
ALREADY = ("ja estava", "ya estaba", "was already")  # the answer to a second tap


def production_stack(tmp_path, appointments: int) -> ProductionStack:
    assert MODEL.exists(), "no trained model: run `make train` (make test does it)"
    # The profile's simulator redelivers failed webhooks, as providers do.
    stack = ProductionStack.isolated(
        tmp_path, rasa_workers=2, action_workers=2, status_delays="0.3,0.6,0.9",
        bench_appointments=appointments,
        extra_env={"TICKET_LOCK_LIFETIME": str(LOCK_SECONDS),
                   "RECORDA_INTERRUPTED_SEND_SECONDS": str(LEASE_SECONDS)})
    try:
        stack.start()
    except BaseException:
        stack.stop()  # PostgreSQL, Redis and what did start
        raise
    return stack


def start_job(stack) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.apps.reminders", "send", "--tomorrow", "--no-progress"],
                            cwd=PROJECT_ROOT, env=stack.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def run_job(stack) -> str:
    job = start_job(stack)
    output, _ = job.communicate(timeout=600)
    return output


def store_of(stack) -> ReminderStore:
    return ReminderStore(stack.env()["RECORDA_DB_URL"])


def sent_count(stack) -> int:
    return sum(1 for r in store_of(stack).for_day(service_day()) if r.provider_message_id)


def service_day():
    """The day the job sends for: the next service day in the sandbox's town."""
    return next_service_day(now(MADRID).date())


def templates_per_appointment(stack) -> Counter:
    messages = call("GET", f"{stack.simulator_url}/sim/messages")[1]
    return Counter(appointment_id_of(m) for m in messages if m["type"] == "hsm")


def assert_each_reminder_sent_once(stack, at_least: int) -> None:
    """Every reminder of the day the job could send was sent, exactly once,
    and the store knows each by the provider's message id."""
    reminders = store_of(stack).for_day(service_day())
    sendable = [r for r in reminders if r.reason not in ("invalid_number", "not_mobile")]
    assert len(sendable) >= at_least
    per_appointment = templates_per_appointment(stack)
    twice = {a: n for a, n in per_appointment.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    unsent = [r.appointment_id for r in sendable if r.appointment_id not in per_appointment]
    assert not unsent, f"never sent: {unsent[:10]} ({len(unsent)})"
    unrecorded = [r.appointment_id for r in sendable if not r.provider_message_id
                  or r.state in (states.SCHEDULED, states.SENDING)]
    assert not unrecorded, f"sent but not recorded: {unrecorded[:10]} ({len(unrecorded)})"


def rasa_workers(stack) -> List[int]:
    """The pids of the Rasa server's forked Sanic workers."""
    rasa = next(s for s in stack.services if s.name == "Rasa")
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == rasa.process.pid:
                children.append(int(entry))
    return children


def when_sent(stack, count: int, job: subprocess.Popen) -> None:
    wait_for(lambda: sent_count(stack) >= count or job.poll() is not None, timeout=300, every=0.1)
    assert job.poll() is None, "the dispatch ended before the fault"


def test_a_rasa_worker_killed_mid_dispatch_loses_and_repeats_nothing(tmp_path):
    stack = production_stack(tmp_path, 1000)
    try:
        workers = rasa_workers(stack)
        assert len(workers) == 2, workers
        job = start_job(stack)
        when_sent(stack, 300, job)
        os.kill(workers[0], signal.SIGKILL)
        job.communicate(timeout=600)
        time.sleep(max(LEASE_SECONDS, LOCK_SECONDS) + 5)  # the dead worker's claims and locks are stale
        output = run_job(stack)
        assert "sent" in output, output
        assert_each_reminder_sent_once(stack, at_least=1000)
    finally:
        stack.stop()


def test_postgresql_restarted_mid_dispatch_loses_and_repeats_nothing(tmp_path):
    stack = production_stack(tmp_path, 400)
    try:
        job = start_job(stack)
        when_sent(stack, 100, job)
        stack.postgres.restart()
        job.communicate(timeout=600)
        time.sleep(LEASE_SECONDS + 5)
        run_job(stack)
        assert_each_reminder_sent_once(stack, at_least=400)
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def tapping_stack(tmp_path_factory):
    stack = production_stack(tmp_path_factory.mktemp("taps"), 120)
    try:
        output = run_job(stack)
        assert "sent" in output, output
        yield stack
    finally:
        stack.stop()


def bench_reminders(stack) -> List[dict]:
    """The reminders the bench citizens (69x numbers) got, one per citizen."""
    messages = call("GET", f"{stack.simulator_url}/sim/messages")[1]
    return sorted((m for m in messages if m["type"] == "hsm" and m["to"].startswith("+3469")),
                  key=lambda m: m["to"])


def tap_all(stack, reminders: List[dict], during=None, spread_seconds: float = 3.0) -> Dict[str, str]:
    """Each citizen taps confirm (even) or cancel (odd), spread over a few
    seconds; `during()` runs in the middle. Returns appointment -> expected status."""
    expected = {}

    def tap(i_message):
        i, message = i_message
        time.sleep(spread_seconds * i / len(reminders))
        status, result = call("POST", f"{stack.simulator_url}/sim/reply",
                              {"msisdn": message["to"], "button": {"message_id": message["id"], "index": i % 2}})
        assert status == 200, result
    for i, message in enumerate(reminders):
        expected[appointment_id_of(message)] = "confirmed" if i % 2 == 0 else "cancelled"
    fault = threading.Timer(spread_seconds / 3, during) if during else None
    if fault:
        fault.start()
    with ThreadPoolExecutor(max_workers=len(reminders)) as pool:
        list(pool.map(tap, enumerate(reminders)))
    if fault:
        fault.join()
    return expected


def booking_status(stack, appointment_id: str) -> str:
    return call("GET", f"{stack.booking_url}/api/v1/appointments/{appointment_id}", headers=BOOKING)[1]["status"]


def assert_each_tap_applied_once(stack, expected: Dict[str, str], reminders: List[dict]) -> None:
    store = store_of(stack)

    def not_applied() -> Dict[str, str]:
        return {a: booking_status(stack, a) for a, status in expected.items() if booking_status(stack, a) != status}

    def not_recorded() -> Dict[str, str]:
        return {a: store.get(a).state for a, s in expected.items() if store.get(a).state != s}
    # A tap queued while the booking system was down reaches both through
    # the worker's retry queue, in its own time.
    deadline = time.monotonic() + 150
    while (not_applied() or not_recorded()) and time.monotonic() < deadline:
        time.sleep(1.0)
    assert not not_applied(), f"not applied in the booking system: {not_applied()}"
    assert not not_recorded(), not_recorded()
    for message in reminders:
        answers = [json.dumps(m["content"], ensure_ascii=False) for m in thread(stack, message["to"])
                   if m["direction"] == "sent" and m["type"] != "hsm"]
        # Told (or told it is queued, then how it ended); a tap handled twice
        # would also have been told its appointment "was already" so.
        assert answers, f"{message['to']} tapped and was told nothing"
        assert not any(word in text for text in answers for word in ALREADY), (message["to"], answers)


def test_redis_restarted_while_citizens_tap_applies_every_tap_once(tapping_stack):
    reminders = bench_reminders(tapping_stack)[:40]
    expected = tap_all(tapping_stack, reminders, during=tapping_stack.redis.restart)
    assert_each_tap_applied_once(tapping_stack, expected, reminders)


def test_a_slow_then_down_booking_system_loses_no_answer(tapping_stack):
    reminders = bench_reminders(tapping_stack)[40:80]
    booking = tapping_stack.booking_url
    call("POST", f"{booking}/sandbox/latency", {"seconds": 5})
    try:
        half = len(reminders) // 2
        expected = tap_all(tapping_stack, reminders[:half])
        call("POST", f"{booking}/sandbox/outage", {"down": True})
        expected.update(tap_all(tapping_stack, reminders[half:]))
    finally:
        call("POST", f"{booking}/sandbox/latency", {"seconds": 0})
        call("POST", f"{booking}/sandbox/outage", {"down": False})
    assert_each_tap_applied_once(tapping_stack, expected, reminders)
