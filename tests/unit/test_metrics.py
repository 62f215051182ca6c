"""bot.foundation.metrics: what one host's processes record through the
metrics directory adds up in any process's /metrics (real processes, a
fork as Sanic's workers do), the files of dead processes are cleaned, and
the text is valid Prometheus exposition."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.foundation import metrics
from tests.support import ROOT

PRELUDE = """
import os, sys
from bot.foundation import metrics
metrics.configure_metrics(sys.argv[1])
"""


def child(directory: Path, process: str, code: str, wait: bool = False) -> subprocess.Popen:
    """A Python process that configures its metrics as `process` with
    `directory`, runs `code` and exits (or, with `wait`, prints "ready" and
    waits until its standard input closes)."""
    script = PRELUDE + textwrap.dedent(code)
    if wait:
        script += "\nprint('ready', flush=True)\nsys.stdin.read()\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT), RECORDA_METRICS_DIR=str(directory))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-c", script, process], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.stderr.read()
    else:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    return proc


def samples(text: bytes) -> Dict[Tuple[str, Tuple], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def booking_errors(found: dict, process: str, operation: str = "confirm", kind: str = "timeout") -> float:
    key = ("recorda_booking_errors_total",
           tuple(sorted({"process": process, "operation": operation, "kind": kind}.items())))
    return found.get(key, 0.0)


def stop(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(30)


def test_two_processes_add_up_and_keep_their_process_label(tmp_path):
    first = child(tmp_path, "action_server", """
        metrics.count_booking_error("confirm", "timeout")
        metrics.count_booking_error("confirm", "timeout")
        metrics.observe_webhook("messagebird", "message", 0.2)
    """, wait=True)
    second = child(tmp_path, "action_server", """
        metrics.count_booking_error("confirm", "timeout")
        metrics.observe_webhook("messagebird", "message", 3.0)
    """, wait=True)
    # Started while the others run: it removes nothing of theirs. Its own
    # file stays after it exits, until some process of the host starts again.
    child(tmp_path, "worker", "metrics.count_booking_error('confirm', 'timeout')")
    try:
        body, content_type = metrics.exposition(directory=tmp_path)
    finally:
        stop(first)
        stop(second)
    found = samples(body)
    assert content_type.startswith("text/plain")
    assert booking_errors(found, "action_server") == 3
    assert booking_errors(found, "worker") == 1
    labels = tuple(sorted({"process": "action_server", "provider": "messagebird", "kind": "message"}.items()))
    assert found[("recorda_webhook_duration_seconds_count", labels)] == 2
    assert found[("recorda_webhook_duration_seconds_sum", labels)] == pytest.approx(3.2)
    le_half = tuple(sorted(dict(labels, le="0.5").items()))
    assert found[("recorda_webhook_duration_seconds_bucket", le_half)] == 1


def test_a_forked_worker_writes_its_own_file_and_counts_in_the_sum(tmp_path):
    child(tmp_path, "rasa", """
        metrics.count_booking_error("cancel", "connection")
        pid = os.fork()   # as Sanic forks its workers after the app's main() configured the metrics
        metrics.count_booking_error("cancel", "connection")
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    """)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    found = samples(metrics.exposition(directory=tmp_path)[0])
    assert booking_errors(found, "rasa", "cancel", "connection") == 3


def test_live_gauges_count_only_running_processes(tmp_path):
    busy = child(tmp_path, "rasa", """
        gauge = metrics.webhooks_in_progress("messagebird")
        gauge.inc()
    """, wait=True)
    labels = (("process", "rasa"), ("provider", "messagebird"))
    try:
        assert samples(metrics.exposition(directory=tmp_path)[0])[("recorda_webhooks_in_progress", labels)] == 1
    finally:
        busy.send_signal(signal.SIGKILL)   # killed mid-call: no chance to clean up
        busy.wait(30)
    after = samples(metrics.exposition(directory=tmp_path)[0])
    assert after.get(("recorda_webhooks_in_progress", labels), 0) == 0


def test_a_starting_process_removes_the_files_of_dead_processes_only(tmp_path):
    child(tmp_path, "reminders", "metrics.count_booking_error('list_offices', 'connection')")
    alive = child(tmp_path, "worker", "metrics.count_booking_error('confirm', 'server_error')", wait=True)
    try:
        child(tmp_path, "reminders", "metrics.count_booking_error('list_offices', 'connection')")
        found = samples(metrics.exposition(directory=tmp_path)[0])
        # The first run's count went with its files; the running worker's stayed.
        assert booking_errors(found, "reminders", "list_offices", "connection") == 1
        assert booking_errors(found, "worker", "confirm", "server_error") == 1
    finally:
        stop(alive)


def test_plain_mode_exposes_this_process_as_valid_prometheus_text():
    metrics.count_booking_error("get_office", "refused")
    metrics.observe_webhook("whatsapp_cloud", "status", 0.01)
    metrics.count_reminder_failed("no_whatsapp_account")
    text = metrics.exposition()[0].decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["recorda_booking_errors"].type == "counter"
    assert families["recorda_webhook_duration_seconds"].type == "histogram"
    assert families["recorda_reminders_failed"].type == "counter"
    assert booking_errors(samples(text.encode()), metrics.process_name(), "get_office", "refused") >= 1


def test_metrics_token_guards_the_scrape(monkeypatch):
    assert metrics.scrape_allowed(None)
    monkeypatch.setenv(metrics.TOKEN_VARIABLE, "s3cret-scrape-token")
    assert not metrics.scrape_allowed(None)
    assert not metrics.scrape_allowed("Bearer wrong")
    assert metrics.scrape_allowed("Bearer s3cret-scrape-token")
