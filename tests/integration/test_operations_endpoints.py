"""GET /health, /ready and /metrics of every long-running Recorda process, as
a supervisor and Prometheus see them: the web app, the action server and the
worker on a real PostgreSQL reached through a proxy that the test cuts (the
database becomes unreachable for that process alone: /ready turns 503 and
names it, and recovers), and Rasa started for real through
bot.apps.rasa_server with JSON logs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

import bot.foundation.clock
from bot.apps.web.app import create_app
from bot.booking.outbox import BookingOutbox
from bot.dev import processes
from bot.dev.processes import free_port
from bot.dev.served_app import serve, shut
from bot.reminders import states
from bot.reminders.metrics import RemindersByState
from bot.reminders.store import ReminderStore
from tests.support import ROOT
from tests.support.console import console_settings
from tests.support.http_helpers import call, wait_for
from tests.support.tcp_proxy import TcpProxy

TOKEN = "a-test-action-token-of-32-chars!"
NOTHING_LISTENS = "http://127.0.0.1:1"
SCRAPE_TOKEN = "a-scrape-token"
RECORDA_FAMILIES = {"recorda_webhook_duration_seconds", "recorda_webhooks_in_progress", "recorda_booking_errors",
                    "recorda_reminders_sent", "recorda_reminders_failed"}


def families(text: str) -> dict:
    """Parsing fails on anything that is not valid Prometheus exposition."""
    return {family.name: family for family in text_string_to_metric_families(text)}


@pytest.fixture
def database(pg_url) -> Iterator[TcpProxy]:
    """PostgreSQL behind a proxy of this test's own; `.url` reaches it through the proxy."""
    target = make_url(pg_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxy.url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield proxy


def child_env(tmp_path: Path, db_url: str, **extra: str) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), RECORDA_DB_URL=db_url, RECORDA_VAR_DIR=str(tmp_path),
                RECORDA_BOOKING_URL=NOTHING_LISTENS, RECORDA_RASA_URL=NOTHING_LISTENS, **extra)


# --- the web app ---------------------------------------------------------------------
async def test_web_app_health_ready_and_the_database_gauges(database, tmp_path):
    settings = console_settings(database.url, f"sqlite:///{tmp_path / 'tracker.db'}")
    store = ReminderStore(settings.db_url)   # the database is shared: count what this test adds
    failed_before = RemindersByState(store).counts()[states.FAILED]
    store.record_unsendable(f"OPS-{uuid.uuid4().hex[:12]}", None, "oac-centre", "12", "ca", "invalid_number")
    BookingOutbox(settings.db_url)
    port = free_port()
    server = await serve(create_app(settings, name=f"ops_test_{port}"), port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async def get(path: str):
                async with http.get(base + path) as resp:
                    return resp.status, await resp.text()

            assert (await get("/health"))[0] == 200
            status, body = await get("/ready")
            # The booking system is down (nothing listens): reported, not required.
            assert (status, json.loads(body)["checks"]) == (200, {
                "database": "ok", "tracker_store": "ok", "booking_system": "unavailable"})
            status, text = await get("/metrics")
            found = families(text)
            assert status == 200 and RECORDA_FAMILIES <= set(found)
            reminders = {s.labels["state"]: s.value for s in found["recorda_reminders"].samples}
            assert reminders[states.FAILED] == failed_before + 1
            assert set(reminders) >= set(states.ALL_STATES)
            assert "recorda_booking_outbox_pending" in found
            assert "recorda_booking_outbox_oldest_pending_seconds" in found

            database.cut()
            status, body = await get("/ready")
            assert status == 503
            assert json.loads(body)["not_ready"] == ["database"]
            status, text = await get("/metrics")   # still answers, without the database's gauges
            assert status == 200 and "recorda_reminders" not in families(text)

            database.restore()
            assert (await get("/ready"))[0] == 200
    finally:
        await shut(server)


# --- the action server -------------------------------------------------------------
def test_action_server_health_ready_and_metrics(database, tmp_path):
    port = free_port()
    env = child_env(tmp_path, database.url, RECORDA_ACTION_TOKEN=TOKEN, RECORDA_METRICS_TOKEN=SCRAPE_TOKEN)
    args = [sys.executable, "-m", "bot.apps.action_server", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with processes.running("the action server", args, f"{base}/health", tmp_path / "actions.log", env):
        status, body = call("GET", f"{base}/ready")   # no token needed, as for /health
        assert status == 200 and body["checks"] == {"database": "ok", "booking_system": "unavailable"}
        assert call("GET", f"{base}/metrics")[0] == 401   # open to Prometheus, with its own token
        status, text = call("GET", f"{base}/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        assert status == 200 and RECORDA_FAMILIES <= set(families(text))
        database.cut()
        status, body = call("GET", f"{base}/ready")
        assert status == 503 and body["not_ready"] == ["database"] and body["checks"]["database"] == "unavailable"
        database.restore()
        wait_for(lambda: call("GET", f"{base}/ready")[0] == 200, timeout=10)
        assert call("POST", f"{base}/webhook", body={})[0] == 401  # the rest stays closed


# --- the worker ----------------------------------------------------------------------
def test_worker_serves_operations_and_the_hosts_metrics(database, tmp_path):
    """The worker's port, and on one host the metrics directory: what the
    daily job (a one-shot command) counted shows in the worker's /metrics."""
    port = free_port()
    shared = tmp_path / "metrics"
    env = child_env(tmp_path, database.url, RECORDA_WORKER_PORT=str(port), RECORDA_METRICS_DIR=str(shared),
                    RECORDA_RETENTION_DAYS="0", RECORDA_RASA_TOKEN="t", MESSAGEBIRD_ACCESS_KEY="")
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "bot.apps.worker", "--interval", "0.2"]
    with processes.running("the worker", args, f"{base}/health", tmp_path / "worker.log", env):
        health = wait_for(lambda: (lambda r: r if r[1]["seconds_since_last_pass"] is not None else None)(
            call("GET", f"{base}/health")))
        assert health[0] == 200 and health[1]["status"] == "ok"
        job = subprocess.run([sys.executable, "-m", "bot.apps.reminders", "send", "--no-progress", "--date",
                              bot.foundation.clock.now().date().isoformat()],
                             env=env, capture_output=True, text=True, timeout=120)
        assert job.returncode == 1, job.stdout + job.stderr   # the booking system cannot be read
        status, text = call("GET", f"{base}/metrics")
        found = families(text)
        job_errors = {(s.labels["operation"], s.labels["kind"]): s.value
                      for s in found["recorda_booking_errors"].samples
                      if s.name.endswith("_total") and s.labels["process"] == "reminders"}
        assert job_errors == {("list_offices", "connection"): 3}   # one call, three attempts
        [last_pass] = found["recorda_worker_last_pass_timestamp_seconds"].samples
        assert last_pass.labels["process"] == "worker" and last_pass.value > 0

        assert call("GET", f"{base}/ready")[0] == 200
        database.cut()
        status, body = call("GET", f"{base}/ready")
        assert status == 503 and body["not_ready"] == ["database"]
        assert call("GET", f"{base}/health")[0] == 200   # alive: its duties fail and are retried
        database.restore()
        wait_for(lambda: call("GET", f"{base}/ready")[0] == 200, timeout=10)


# --- Rasa ----------------------------------------------------------------------------
def test_rasa_logs_json_and_answers_ready_on_the_channel(tmp_path):
    """Rasa started as in production (bot.apps.rasa_server), here without a
    model: every log line is JSON although Rasa sets up its own logging,
    and the channel's readiness says the model is not loaded."""
    port = free_port()
    (tmp_path / "endpoints.yml").write_text("")
    env = dict(os.environ, PYTHONPATH=str(ROOT), RECORDA_LOG_FORMAT="json", TF_CPP_MIN_LOG_LEVEL="3",
               RECORDA_DB_URL=f"sqlite:///{tmp_path / 'recorda.db'}", RECORDA_ACTION_TOKEN=TOKEN,
               RECORDA_VAR_DIR=str(tmp_path))
    args = [sys.executable, "-m", "bot.apps.rasa_server", "run", "--enable-api", "--port", str(port),
            "--model", str(tmp_path / "no-model.tar.gz"), "--endpoints", str(tmp_path / "endpoints.yml"),
            "--credentials", str(ROOT / "credentials.yml")]
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "rasa.log"
    child = processes.start("Rasa", args, log_path, env, cwd=tmp_path)
    try:
        processes.wait_healthy(child, f"{base}/", timeout=120, interval=0.5)
        status, body = call("GET", f"{base}/webhooks/messagebird/ready")
        assert status == 503 and body["not_ready"] == ["model"] and body["checks"]["database"] == "ok"
        status, text = call("GET", f"{base}/webhooks/messagebird/metrics")
        assert status == 200
        families(text)
    finally:
        processes.stop(child.process)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]   # fails on any line that is not JSON
    assert {"time", "level", "logger", "message", "process"} <= set(entries[0])
    messages = [e["message"] for e in entries]
    assert any("patches applied to Rasa" in m for m in messages)
    assert any("Rasa server is up and running" in m for m in messages)   # logged after Rasa's own set-up


# --- a Sanic server of Recorda's, in one line (the status receiver's) ---------------
OPERATED_SERVER = """
import sys
from sanic import Sanic, response
from bot.apps.operations import operate
app = Sanic("operated", configure_logging=False)

@app.get("/health")
async def own_health(_):
    return response.json({"status": "ok", "own": True})

operate(app, "status_receiver", health=False)
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
"""


def test_operate_gives_a_sanic_server_ready_metrics_and_json_logs(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), RECORDA_LOG_FORMAT="json",
               RECORDA_DB_URL=f"sqlite:///{tmp_path / 'recorda.db'}", RECORDA_VAR_DIR=str(tmp_path))
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with processes.running("a server", [sys.executable, "-c", OPERATED_SERVER, str(port)], f"{base}/ready",
                           log_path, env):
        assert call("GET", f"{base}/health") == (200, {"status": "ok", "own": True})
        assert call("GET", f"{base}/ready") == (200, {"status": "ready", "checks": {"database": "ok"}})
        status, text = call("GET", f"{base}/metrics")
        assert status == 200 and RECORDA_FAMILIES <= set(families(text))
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert entries and all(entry["process"] == "status_receiver" for entry in entries)
