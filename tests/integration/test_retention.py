"""The retention purge: what is older than the period goes (conversations,
reminders and what names their citizens), what is newer or still work
stays; a dry run only counts; the command and the worker's daily duty."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, update

import bot.foundation.clock
from bot.apps.worker import retention_duty
from bot.booking.outbox import DONE, BookingOutbox, booking_operations
from bot.citizens import links
from bot.citizens.links import used_links
from bot.console.accounts import Accounts, reveals_table, sessions_table
from bot.console.retention import purge
from bot.console.tracker import TrackerEvents
from bot.dev.sandbox.booking_seed import MADRID
from bot.foundation.db import engine_with_tables
from bot.foundation.settings import PROJECT_ROOT
from bot.messaging import webhook_receipts as receipts
from bot.messaging.webhook_receipts import webhook_receipts
from bot.reminders import sms_fallback
from bot.reminders.records import reminder_events, reminders, unmatched_statuses
from bot.reminders.sms_fallback import SENT, sms_fallbacks
from bot.reminders.store import ReminderStore
from tests.support.console import PASSWORD, Tracker, console_settings

# Tables these tests fill directly, not through their stores.
WRITTEN_HERE = (sms_fallback.SCHEMA, links.SCHEMA, receipts.SCHEMA)

NOW = bot.foundation.clock.now(timezone.utc).replace(microsecond=0)
DAYS = 30
OLD = NOW - timedelta(days=DAYS + 10)      # before the cutoff
RECENT = NOW - timedelta(days=DAYS - 10)   # after it
OLD_CITIZEN, RECENT_CITIZEN = "+34600000001", "+34600000002"


def local_day(at: datetime) -> date:
    return at.astimezone(MADRID).date()


@pytest.fixture
def settings(tmp_path):
    return console_settings(f"sqlite:///{tmp_path / 'recorda.db'}", f"sqlite:///{tmp_path / 'tracker.db'}")


def fill(settings) -> dict:
    """An old and a recent conversation and reminder, with every kind of row
    that names them, plus work that is still pending. Returns some ids."""
    tracker = Tracker(settings.tracker_db_url)
    for citizen, at in ((OLD_CITIZEN, OLD), (RECENT_CITIZEN, RECENT)):
        tracker.bot(citizen, at, "Recordatori de la cita")
        tracker.user(citizen, at + timedelta(minutes=5), "vindré", "affirm", 0.95)

    store = ReminderStore(settings.db_url)
    for appointment, citizen, at in (("OLD-1", OLD_CITIZEN, OLD), ("NEW-1", RECENT_CITIZEN, RECENT)):
        store.schedule(appointment, local_day(at) + timedelta(days=1), "centre", citizen, "ca", at=at)
        store.claim_for_sending(appointment, at=at)
        store.mark_sent(appointment, f"msg-{appointment}", at=at)
        store.record_answer(appointment, "confirmed", "button", at=at + timedelta(minutes=5))
    # Triggered without the daily job: no service day, only when it was created.
    store.claim_for_sending("ADHOC-OLD", OLD_CITIZEN, "ca", at=OLD)

    engine = engine_with_tables(settings.db_url, *WRITTEN_HERE)
    outbox = BookingOutbox(settings.db_url)
    pending_old = outbox.enqueue("OLD-1", "cancel", OLD_CITIZEN, "ca")
    told_old = outbox.enqueue("OLD-1", "confirm", OLD_CITIZEN, "ca")
    untold_old = outbox.enqueue("OTHER-9", "confirm", OLD_CITIZEN, "ca")
    told_recent = outbox.enqueue("NEW-1", "confirm", RECENT_CITIZEN, "ca")
    for op in (told_old, untold_old, told_recent):
        outbox.finish(op.id, DONE)
    outbox.mark_notified(told_old.id)
    outbox.mark_notified(told_recent.id)
    with engine.begin() as conn:
        for op_id, at in ((pending_old.id, OLD), (told_old.id, OLD), (untold_old.id, OLD),
                          (told_recent.id, RECENT)):
            conn.execute(update(booking_operations).where(booking_operations.c.id == op_id)
                         .values(created_at=at, finished_at=at))
        conn.execute(update(booking_operations).where(booking_operations.c.id == pending_old.id)
                     .values(finished_at=None))
        for appointment, at in (("OLD-1", OLD), ("NEW-1", RECENT)):
            conn.execute(insert(sms_fallbacks).values(appointment_id=appointment, state=SENT, attempts=1,
                                                      created_at=at, updated_at=at))
            conn.execute(insert(used_links).values(appointment_id=appointment, jti=f"j-{appointment}",
                                                   action="confirm", used_at=at))
        for key, at in (("old-hook", OLD), ("recent-hook", RECENT)):
            conn.execute(insert(webhook_receipts).values(key=key, received_at=at))
            conn.execute(insert(unmatched_statuses).values(message_id=key, status="delivered", at=at))

    accounts = Accounts(settings.db_url, lifetime=timedelta(hours=10), idle=timedelta(hours=1),
                        clock=lambda: NOW - timedelta(days=2))
    staff = accounts.create_user("staff", "Staff", PASSWORD, "staff")
    accounts.start_session(staff)                      # long expired by NOW
    live = Accounts(settings.db_url, clock=lambda: NOW - timedelta(minutes=5))
    live_token = live.start_session(staff)
    with engine.begin() as conn:
        for days_ago in (400, 200):
            conn.execute(insert(reveals_table).values(
                user_id=staff.id, username="staff", at=NOW - timedelta(days=days_ago),
                reference=f"appointment:R{days_ago}", masked_number="+34 6•• ••• •01", purpose="call"))
    return {"pending_old": pending_old.id, "untold_old": untold_old.id, "told_recent": told_recent.id,
            "live_token": live_token}


def count(settings, table, condition=None) -> int:
    engine = engine_with_tables(settings.db_url, *WRITTEN_HERE)
    query = select(func.count()).select_from(table)
    if condition is not None:
        query = query.where(condition)
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def senders_left(settings) -> set:
    return set(TrackerEvents(settings.tracker_db_url).senders())


def test_what_is_older_than_the_period_goes_and_the_rest_stays(settings):
    ids = fill(settings)
    store = ReminderStore(settings.db_url)
    old_history = len(store.history("OLD-1")) + len(store.history("ADHOC-OLD"))
    report = purge(settings, DAYS, now=NOW)

    assert senders_left(settings) == {RECENT_CITIZEN}
    assert store.get("OLD-1") is None and store.get("ADHOC-OLD") is None
    assert store.get("NEW-1").state == "confirmed"
    assert [e.event for e in store.history("NEW-1")][-1] == "confirmed"
    assert count(settings, reminder_events) == len(store.history("NEW-1")), "no orphaned history"

    left_ops = {row.id for row in BookingOutbox(settings.db_url).all()}
    assert left_ops == {ids["pending_old"], ids["untold_old"], ids["told_recent"]}, \
        "pending work and citizens not yet told stay"
    assert count(settings, sms_fallbacks) == 1 and count(settings, used_links) == 1
    assert count(settings, sms_fallbacks, sms_fallbacks.c.appointment_id == "NEW-1") == 1
    assert count(settings, webhook_receipts) == 1 and count(settings, unmatched_statuses) == 1

    assert count(settings, sessions_table) == 1
    assert Accounts(settings.db_url, clock=lambda: NOW).session(ids["live_token"]) is not None
    references = {row.reference for row in _reveals(settings)}
    assert references == {"appointment:R200"}, "the reveal log keeps a year, whatever the period"
    assert Accounts(settings.db_url).get_by_username("staff") is not None

    assert report.dry_run is False
    assert report.counts() == {
        "tracker_events": 2, "reminders": 2, "reminder_events": old_history, "sms_fallbacks": 1,
        "used_links": 1, "booking_operations": 1, "unmatched_statuses": 1, "webhook_receipts": 1,
        "console_sessions": 1, "console_reveals": 1}


def _reveals(settings):
    with engine_with_tables(settings.db_url, *WRITTEN_HERE).connect() as conn:
        return conn.execute(select(reveals_table)).all()


def test_a_dry_run_counts_what_would_go_and_deletes_nothing(settings):
    fill(settings)
    before = (senders_left(settings), count(settings, reminders), count(settings, reminder_events),
              count(settings, booking_operations), count(settings, sessions_table))
    dry = purge(settings, DAYS, dry_run=True, now=NOW)
    assert dry.dry_run and dry.total > 0
    assert (senders_left(settings), count(settings, reminders), count(settings, reminder_events),
            count(settings, booking_operations), count(settings, sessions_table)) == before
    real = purge(settings, DAYS, now=NOW)
    assert real.counts() == dry.counts()


def test_a_longer_period_keeps_more(settings):
    fill(settings)
    report = purge(settings, DAYS + 20, now=NOW)
    assert report.reminders == 0 and report.tracker_events == 0
    assert senders_left(settings) == {OLD_CITIZEN, RECENT_CITIZEN}


@pytest.mark.parametrize("days", [0, -5])
def test_a_period_under_one_day_is_refused(settings, days):
    fill(settings)
    with pytest.raises(ValueError, match="1 or more"):
        purge(settings, days, now=NOW)
    assert senders_left(settings) == {OLD_CITIZEN, RECENT_CITIZEN}


def run_command(settings, *args):
    env = dict(os.environ, RECORDA_DB_URL=settings.db_url, RECORDA_TRACKER_DB_URL=settings.tracker_db_url,
               RECORDA_RETENTION_DAYS=str(DAYS))
    return subprocess.run([sys.executable, "-m", "bot.apps.console_admin", "purge", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_purge_command_line(settings):
    fill(settings)
    done = run_command(settings, "--dry-run")
    assert done.returncode == 0, done.stderr
    dry = json.loads(done.stdout)
    assert dry["dry_run"] is True and dry["days"] == DAYS
    assert dry["tracker_events"] == 2 and dry["reminders"] == 2
    assert senders_left(settings) == {OLD_CITIZEN, RECENT_CITIZEN}

    done = run_command(settings, "--days", "0")
    assert done.returncode == 2 and "1 or more" in done.stderr and done.stdout == ""

    done = run_command(settings)                       # the period of RECORDA_RETENTION_DAYS
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reminders"] == 2
    assert senders_left(settings) == {RECENT_CITIZEN}
    assert ReminderStore(settings.db_url).get("OLD-1") is None


async def test_the_worker_purges_once_a_day_first_a_few_minutes_after_start(settings):
    from dataclasses import replace
    assert retention_duty(replace(settings, retention_days=0)) is None, "0 turns the purge off"

    # 10:00 in the town, so that the hours below stay within one local day.
    start = datetime.combine(NOW.astimezone(MADRID).date(), time(10), MADRID).astimezone(timezone.utc)
    clock = [start]
    duty = retention_duty(replace(settings, retention_days=DAYS), clock=lambda: clock[0],
                          first_run_after=timedelta(minutes=5))
    fill(settings)
    await duty()
    assert OLD_CITIZEN in senders_left(settings), "not in the first minutes"

    clock[0] = start + timedelta(minutes=6)
    await duty()
    assert senders_left(settings) == {RECENT_CITIZEN}

    # Something old again (a late write, say): left alone until the next day.
    Tracker(settings.tracker_db_url).user(OLD_CITIZEN, OLD, "hola", "greet", 0.9)
    clock[0] += timedelta(hours=1)
    await duty()
    assert OLD_CITIZEN in senders_left(settings)
    clock[0] += timedelta(days=1)
    await duty()
    assert senders_left(settings) == {RECENT_CITIZEN}
