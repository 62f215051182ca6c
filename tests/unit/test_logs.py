"""RECORDA_LOG_FORMAT=json: one JSON object per line with time, level,
logger, message and the exception; the text format otherwise. Each case
runs in a process of its own, as configure_logging is for a process's main()."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from typing import List

from tests.support import ROOT

LOGGING = """
import logging
from bot.foundation.logs import configure_logging
configure_logging("worker")
log = logging.getLogger("recorda.test")
log.info("queued %s of %s", "cancel", "A-17")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("duty failed")
log.debug("not shown at INFO")
"""


def stderr_lines(code: str, log_format: str = "") -> List[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RECORDA_LOG_FORMAT=log_format)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    return result.stderr.splitlines()


def test_json_lines_carry_the_expected_keys_and_the_exception():
    lines = stderr_lines(LOGGING, "json")
    assert len(lines) == 2, lines   # the traceback is inside its line, not on lines of its own
    info, error = (json.loads(line) for line in lines)
    assert {k: info[k] for k in ("level", "logger", "message", "process")} == {
        "level": "INFO", "logger": "recorda.test", "message": "queued cancel of A-17", "process": "worker"}
    assert datetime.fromisoformat(info["time"]).utcoffset().total_seconds() == 0
    assert "exception" not in info
    assert error["level"] == "ERROR" and error["message"] == "duty failed"
    assert error["exception"].startswith("Traceback") and "ZeroDivisionError: division by zero" in error["exception"]
    assert isinstance(error["pid"], int)


def test_text_stays_the_default():
    lines = stderr_lines(LOGGING)
    assert lines[0].endswith("INFO recorda.test: queued cancel of A-17")
    assert any(line.startswith("Traceback") for line in lines)
    assert not lines[0].startswith("{")


def test_sanic_logs_and_python_warnings_are_json_too():
    """A Sanic app that sets up Sanic's own loggers (Rasa's does) after
    configure_logging, and a library's warning."""
    lines = stderr_lines("""
        import logging, warnings
        from bot.foundation.logs import configure_logging
        configure_logging("rasa")
        from sanic import Sanic
        from sanic.log import error_logger
        Sanic("like_rasas", configure_logging=True)
        error_logger.error("Exception occurred while handling uri: %s", "/webhooks/x")
        warnings.warn("\\x1b[93mNo valid model found\\x1b[0m", UserWarning)
    """, "json")
    entries = [json.loads(line) for line in lines]
    assert [(e["logger"], e["level"]) for e in entries] == [("sanic.error", "ERROR"), ("py.warnings", "WARNING")]
    assert entries[0]["process"] == "rasa"
    assert "No valid model found" in entries[1]["message"] and "\x1b" not in entries[1]["message"]
