"""The follow-up list staff use to call citizens, against the real sandbox
booking service and a reminder store with a known history."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import timedelta, timezone

import bot.foundation.clock
from bot.foundation.phone import check_for_whatsapp
from bot.foundation.settings import PROJECT_ROOT
from bot.offices.service_days import next_service_day
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.booking_sandbox import madrid_today


def run_follow_up(booking_service, db_url, day, *extra):
    env = dict(os.environ, RECORDA_DB_URL=db_url, RECORDA_BOOKING_URL=booking_service.api_url,
               RECORDA_BOOKING_TOKEN=booking_service.token, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-m", "bot.apps.reminders", "follow-up", "--date", day.isoformat(),
                             "--csv", *extra], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


async def test_follow_up_lists_failed_and_unanswered_reminders(booking_service, booking, db_url):
    day = next_service_day(madrid_today())
    appointments = [a for o in await booking.list_offices() for a in await booking.list_appointments(day, o.id)
                    if a.is_active and check_for_whatsapp(a.phone).usable]
    failed, expired_unread, expired_read, confirmed, still_open = appointments[:5]
    store = ReminderStore(db_url)
    sent_at = bot.foundation.clock.now(timezone.utc) - timedelta(hours=30)
    for a in (failed, expired_unread, expired_read, confirmed, still_open):
        store.schedule(a.id, day, a.office_id, check_for_whatsapp(a.phone).e164, a.language)
        store.claim_for_sending(a.id)
        at = sent_at if a is not still_open else bot.foundation.clock.now(timezone.utc)
        store.mark_sent(a.id, f"m-{a.id}", at=at)
    store.apply_provider_status(f"m-{failed.id}", "failed", error_code=302, reason="no_whatsapp_account")
    store.apply_provider_status(f"m-{expired_read.id}", "read")
    store.apply_provider_status(f"m-{still_open.id}", "delivered")
    store.record_answer(confirmed.id, states.CONFIRMED, "button")
    store.expire_due()

    rows = {r["appointment"]: r for r in run_follow_up(booking_service, db_url, day)}
    assert set(rows) == {failed.id, expired_unread.id, expired_read.id}
    assert rows[failed.id]["situation"] == "reminder failed"
    assert rows[failed.id]["reason"] == "no WhatsApp account"
    assert rows[expired_unread.id]["situation"] == "expired, never read"
    assert rows[expired_read.id]["situation"] == "read, never answered"
    assert all("••" in r["phone"] for r in rows.values())  # masked by default

    with_open = {r["appointment"]: r for r in run_follow_up(booking_service, db_url, day, "--open",
                                                            "--show-numbers")}
    assert with_open[still_open.id]["situation"] == "no answer yet (not read)"
    assert with_open[failed.id]["phone"] == check_for_whatsapp(failed.phone).e164
    assert confirmed.id not in with_open
