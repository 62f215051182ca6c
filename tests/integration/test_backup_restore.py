"""The backup and the restore drill of docs/operations.md, on a real
PostgreSQL: Recorda's stores with a reminder and its history, a console
account with a session and a webhook receipt are backed up with
scripts/backup-postgres, damaged (rows deleted, a table dropped, a row
changed), restored with scripts/restore-postgres, and found back exactly:
every row, every sequence, and the stores behave as before (the account
signs in, the webhook is still a duplicate, a new reminder gets a fresh id).
Runs in a scratch database of its own, created by the `recorda` role
(scripts/start-test-postgres gives it CREATEDB)."""
from __future__ import annotations

import os
import stat
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import bot.foundation.clock
from bot.console.accounts import ADMIN, Accounts
from bot.foundation.db import get_engine
from bot.foundation.settings import PROJECT_ROOT
from bot.messaging.webhook_receipts import WebhookReceipts
from bot.reminders import states
from bot.reminders.store import ReminderStore

BACKUP = PROJECT_ROOT / "scripts" / "backup-postgres"
RESTORE = PROJECT_ROOT / "scripts" / "restore-postgres"
PASSWORD = "a long enough password"
WEBHOOK_KEY = "messagebird:message.updated:evt-0001"


Snapshot = Dict[str, List[tuple]]


@pytest.fixture
def scratch_url(pg_url) -> Iterator[str]:
    """A database of its own, dropped afterwards: the restore replaces tables."""
    name = f"recorda_backup_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        yield url
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def snapshot(url: str) -> Snapshot:
    """Every row of every table, in a fixed order, and every sequence's value."""
    engine = create_engine(url, future=True)
    try:
        rows: Snapshot = {}
        with engine.connect() as conn:
            for table in sorted(inspect(conn).get_table_names()):
                columns = [c["name"] for c in inspect(conn).get_columns(table)]
                order = ", ".join(f'"{c}"' for c in columns)
                rows[table] = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}'))]
            rows["(sequences)"] = [tuple(r) for r in conn.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename"))]
        return rows
    finally:
        engine.dispose()


def run(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RECORDA_DB_URL"}
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120, env=env)


def fill_stores(url: str) -> None:
    """What a town's database holds after a day: a reminder sent, delivered
    and confirmed, one that could not be sent, a console admin who signed
    in, and a webhook already handled."""
    now = bot.foundation.clock.now()
    tomorrow = (now + timedelta(days=1)).date()
    reminders = ReminderStore(url)
    reminders.schedule("apt-1001", tomorrow, "oac-centre", "+34612345678", "ca", at=now)
    assert reminders.claim_for_sending("apt-1001", at=now + timedelta(seconds=1))
    assert reminders.mark_sent("apt-1001", "msg-1001", at=now + timedelta(seconds=2))
    reminders.apply_provider_status("msg-1001", "delivered", at=now + timedelta(seconds=30))
    reminders.record_answer("apt-1001", states.CONFIRMED, "button", at=now + timedelta(minutes=5))
    reminders.record_unsendable("apt-1002", tomorrow, "oac-centre", "+34931234567", "es", "landline", at=now)
    accounts = Accounts(url)
    accounts.create_user("ana", "Ana Puig", PASSWORD, ADMIN, "ca")
    user = accounts.authenticate("ana", PASSWORD)
    assert user is not None
    accounts.start_session(user)
    assert WebhookReceipts(url).first_time(WEBHOOK_KEY)


def damage(url: str) -> None:
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM reminder_events"))
            conn.execute(text("UPDATE reminders SET state = 'failed' WHERE appointment_id = 'apt-1001'"))
            conn.execute(text("DELETE FROM console_sessions"))
            conn.execute(text("DELETE FROM console_users"))
            conn.execute(text("DROP TABLE webhook_receipts"))
    finally:
        engine.dispose()


def test_a_backup_restores_every_row_after_damage(scratch_url, tmp_path):
    fill_stores(scratch_url)
    before = snapshot(scratch_url)
    assert before["reminders"] and before["reminder_events"] and before["console_users"]
    assert before["webhook_receipts"] and before["console_sessions"]
    history_before = ReminderStore(scratch_url).history("apt-1001")
    assert [e.event for e in history_before if e.applied][-1] == states.CONFIRMED

    backups = tmp_path / "backups"
    backups.mkdir()
    made = run(BACKUP, str(backups), scratch_url)
    assert made.returncode == 0, made.stderr
    [dump] = list(backups.glob("recorda-*.dump"))
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600  # personal data: the owner only
    assert f":{make_url(scratch_url).password}@" not in made.stderr and ":***@" in made.stderr
    assert not list(backups.glob("*.partial.*"))

    get_engine(scratch_url).dispose()  # as the stopped processes would
    damage(scratch_url)
    damaged = snapshot(scratch_url)
    assert "webhook_receipts" not in damaged and damaged["reminder_events"] == []
    assert damaged["console_users"] == []

    restored = run(RESTORE, "--yes", str(dump), scratch_url)
    assert restored.returncode == 0, restored.stderr

    assert snapshot(scratch_url) == before
    # The stores behave as before the damage.
    reminders = ReminderStore(scratch_url)
    confirmed, unsendable = reminders.get("apt-1001"), reminders.get("apt-1002")
    assert confirmed is not None and confirmed.state == states.CONFIRMED
    assert unsendable is not None and unsendable.reason == "landline"
    assert reminders.history("apt-1001") == history_before
    assert Accounts(scratch_url).authenticate("ana", PASSWORD) is not None
    assert WebhookReceipts(scratch_url).first_time(WEBHOOK_KEY) is False  # still a duplicate
    # The sequences came back too: a new reminder does not collide.
    now = bot.foundation.clock.now()
    new = reminders.schedule("apt-1003", now.date(), "oac-centre", "+34612345679", "en", at=now)
    assert new.id > max(row[0] for row in before["reminders"])


def test_a_backup_directory_keeps_the_newest(scratch_url, tmp_path):
    fill_stores(scratch_url)
    backups = tmp_path / "backups"
    backups.mkdir()
    old = [backups / f"recorda-2026010{day}T023000Z.dump" for day in (1, 2, 3)]
    for path in old:
        path.write_bytes(b"an older backup")
    made = run(BACKUP, "--keep", "2", str(backups), scratch_url)
    assert made.returncode == 0, made.stderr
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 2 and kept[0] == old[2].name and kept[1] > old[2].name


def test_the_scripts_refuse_clearly(scratch_url, tmp_path):
    no_url = run(BACKUP, str(tmp_path / "x.dump"))
    assert no_url.returncode == 1 and "RECORDA_DB_URL" in no_url.stderr
    sqlite = run(BACKUP, str(tmp_path / "x.dump"), "sqlite:///var/recorda.db")
    assert sqlite.returncode == 1 and "not a PostgreSQL URL" in sqlite.stderr
    usage = run(RESTORE)
    assert usage.returncode == 2 and "Usage: scripts/restore-postgres" in usage.stderr

    not_a_dump = tmp_path / "notes.txt"
    not_a_dump.write_text("not a backup")
    refused = run(RESTORE, "--yes", str(not_a_dump), scratch_url)
    assert refused.returncode == 1 and "not a backup" in refused.stderr

    fill_stores(scratch_url)
    dump = tmp_path / "one.dump"
    assert run(BACKUP, str(dump), scratch_url).returncode == 0
    # Not from a terminal and without --yes: nothing is touched.
    unconfirmed = subprocess.run([str(RESTORE), str(dump), scratch_url], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=60)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
