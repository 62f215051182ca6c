"""Recorda's own stores under several processes at once: the reminder claim,
the webhook receipts, the booking retry queue and the SMS fallback claim.
Separate processes (as the web app, Rasa, the action server and the workers
are) compete for the same work released at the same moment; each unit must
be won by exactly one of them and none lost. On an SQLite file and (when CI
provides one through RECORDA_TEST_PG_URL) on a real PostgreSQL."""
from __future__ import annotations

import multiprocessing
import os
import traceback
import uuid
from collections import Counter
from typing import Callable, List, Sequence

import pytest
from sqlalchemy import select

from bot.booking.outbox import DONE, BookingOutbox, booking_operations
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.reminders import states
from bot.reminders.sms_fallback import SENDING, SmsFallbackStore
from bot.reminders.store import ReminderStore

PROCESSES = 4
PHONE = "+34612345678"

# A role: given the database URL, opens its store (as a process does when it
# starts) and returns what the process then does with the shared work, given
# `together` (wait for the other processes): the units it won.
Run = Callable[[Sequence[str], Callable[[], object]], List[str]]
Role = Callable[[str], Run]


def _process(role: Role, url: str, work: Sequence[str], ready, go, barrier, results) -> None:
    """One process: its store opened and connected before the start, so the
    competition is about the work, not about who starts first."""
    try:
        run = role(url)
        ready.release()
        if not go.wait(30):
            raise TimeoutError("never released")
        results.put((os.getpid(), run(work, lambda: barrier.wait(30)), None))
    except BaseException:  # reported by the test, not lost in a child's stderr
        barrier.abort()  # the others stop waiting for this one
        results.put((os.getpid(), [], traceback.format_exc()))


def compete(role: Role, url: str, work: Sequence[str]) -> List[List[str]]:
    """Runs `role` in PROCESSES spawned processes released together on one
    Event; returns what each of them won."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    barrier = context.Barrier(PROCESSES)
    processes = [context.Process(target=_process, args=(role, url, list(work), ready, go, barrier, results))
                 for _ in range(PROCESSES)]
    for p in processes:
        p.start()
    try:
        for _ in processes:
            assert ready.acquire(timeout=30), "a process did not open its store"
        go.set()
        outcomes = [results.get(timeout=60) for _ in processes]
        for p in processes:
            p.join(10)
            assert p.exitcode == 0
    finally:
        for p in processes:
            if p.is_alive():
                p.terminate()
    errors = [error for _, _, error in outcomes if error]
    assert not errors, "\n".join(errors)
    return [won for _, won, _ in outcomes]


def assert_each_won_once(wins: List[List[str]], work: Sequence[str]) -> None:
    counts = Counter(unit for won in wins for unit in won)
    twice = sorted(unit for unit, n in counts.items() if n > 1)
    assert not twice, f"won by more than one process: {twice}"
    assert set(counts) == set(work), f"lost: {sorted(set(work) - set(counts))}"
    assert sum(counts.values()) == len(work)
    assert sum(1 for won in wins if won) > 1, "one process won everything: nothing was contended"


def _prefix() -> str:
    return f"C{uuid.uuid4().hex[:8]}-"


def one_at_a_time(attempt: Callable[[str], bool]) -> Run:
    """Every process tries each unit in the same order, all of them at the
    same moment (else the first one would win everything before the others
    even got there)."""
    def run(work: Sequence[str], together: Callable[[], object]) -> List[str]:
        won = []
        for unit in work:
            together()
            if attempt(unit):
                won.append(unit)
        return won
    return run


# --- the reminder claim (connectors/, the worker) ---------------------------

def _claim_reminders(url: str) -> Run:
    store = ReminderStore(url)
    store.get("warm-up")
    return one_at_a_time(lambda aid: store.claim_for_sending(aid, PHONE, "ca"))


def test_each_reminder_is_claimed_by_one_process(any_db_url):
    prefix = _prefix()
    scheduled = [f"{prefix}S{n}" for n in range(30)]
    unknown = [f"{prefix}U{n}" for n in range(30)]  # triggered without the job: created by the claim
    store = ReminderStore(any_db_url)
    for aid in scheduled:
        store.schedule(aid, None, None, PHONE, "ca")
    work = scheduled + unknown
    assert_each_won_once(compete(_claim_reminders, any_db_url, work), work)
    for aid in work:
        events = [e.event for e in store.history(aid)]
        assert store.get(aid).state == states.SENDING
        assert events == [states.SCHEDULED, states.SENDING], (aid, events)


# --- webhook receipts (the channels, Rasa's processes) ----------------------

def _receive_webhooks(url: str) -> Run:
    receipts = WebhookReceipts(url)
    receipts.first_time("warm-up")
    return one_at_a_time(receipts.first_time)


def test_each_webhook_is_handled_the_first_time_once(any_db_url):
    prefix = _prefix()
    work = [f"{prefix}wamid.{n}" for n in range(150)]
    assert_each_won_once(compete(_receive_webhooks, any_db_url, work), work)
    assert not WebhookReceipts(any_db_url).first_time(work[0])


# --- the booking retry queue (the workers) ----------------------------------

def _run_outbox(url: str) -> Run:
    outbox = BookingOutbox(url)
    outbox.pending_for("warm-up")

    def run(work: Sequence[str], together: Callable[[], object]) -> List[str]:
        # Each process polls as the worker does, as often as it can: they
        # finish at different times, so no waiting for each other.
        ours, won, idle = set(work), [], 0
        while idle < 3:  # empty thrice: nothing due left, claimed or not
            claimed = [op for op in outbox.claim_due(limit=5) if op.appointment_id in ours]
            idle = 0 if claimed else idle + 1
            for op in claimed:
                won.append(op.appointment_id)
                outbox.finish(op.id, DONE)
        return won
    return run


def test_each_due_booking_operation_is_claimed_by_one_worker(any_db_url):
    prefix = _prefix()
    work = [f"{prefix}{n}" for n in range(60)]
    outbox = BookingOutbox(any_db_url)
    for aid in work:
        outbox.enqueue(aid, "cancel", PHONE, "ca")
    assert_each_won_once(compete(_run_outbox, any_db_url, work), work)
    with outbox.engine.connect() as conn:
        rows = conn.execute(select(booking_operations.c.state, booking_operations.c.attempts).where(
            booking_operations.c.appointment_id.like(f"{prefix}%"))).all()
    assert sorted(rows) == [(DONE, 1)] * len(work)  # each run once


# --- the SMS fallback claim (the workers) -----------------------------------

def _claim_sms(url: str) -> Run:
    store = SmsFallbackStore(url)
    store.get("warm-up")
    return one_at_a_time(store.claim)


def test_each_sms_fallback_is_claimed_once_new_or_retried(any_db_url, clock):
    prefix = _prefix()
    new = [f"{prefix}N{n}" for n in range(40)]
    retried = [f"{prefix}R{n}" for n in range(40)]  # a send that failed, its retry due now
    store = SmsFallbackStore(any_db_url)
    clock.advance(hours=-1)  # this process only: the retries fall due before the workers' now
    for aid in retried:
        assert store.claim(aid)
        store.retry_later(aid, "503 from the provider", attempts=1)
    work = new + retried
    assert_each_won_once(compete(_claim_sms, any_db_url, work), work)
    for aid in work:
        record = store.get(aid)
        assert (record.state, record.attempts) == (SENDING, 1 if aid in new else 2), aid


# --- the harness itself -------------------------------------------------------

def _fail(url: str) -> Run:
    return one_at_a_time(lambda unit: bool(1 / 0))


def test_a_failing_process_fails_the_test_with_its_traceback(db_url):
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        compete(_fail, db_url, ["x"])
