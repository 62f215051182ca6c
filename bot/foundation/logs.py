"""How every Recorda process writes its log: `configure_logging(process)`
once, at the start of its main().

RECORDA_LOG_FORMAT=json: one JSON object per line on standard error, with
the keys time (ISO 8601, UTC), level, logger, message, process (web, rasa,
worker...), pid and, when there is one, exception (the formatted
traceback), for a log collector to read without parsing text. Anything else
(or unset): the process's usual text lines.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Optional, TextIO

FORMAT_VARIABLE = "RECORDA_LOG_FORMAT"
# Colours that libraries put in their text (Rasa's warnings): noise in JSON.
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def json_requested() -> bool:
    return os.environ.get(FORMAT_VARIABLE, "").strip().lower() == "json"


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def __init__(self, process: str = "recorda"):
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: Dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _ANSI_ESCAPE.sub("", record.getMessage()),
            "process": self.process,
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a message argument that JSON cannot hold is written as text, never lost.
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(process: str, level: Optional[int] = logging.INFO, text_format: str = TEXT_FORMAT,
                      stream: Optional[TextIO] = None) -> logging.Handler:
    """Replaces the root logger's handlers with one writing to `stream`
    (standard error by default) in the format RECORDA_LOG_FORMAT asks for.
    `level` None keeps the root logger's level (Rasa sets its own)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    json_lines = json_requested()
    handler.setFormatter(JsonFormatter(process) if json_lines else logging.Formatter(text_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    if level is not None:
        root.setLevel(level)
    if json_lines:
        _sanic_logs_as_json(process)
        # Python warnings (Rasa raises many at start) as log records, not bare text.
        logging.captureWarnings(True)
    return handler


def _sanic_logs_as_json(process: str) -> None:
    """A Sanic app created with configure_logging=True (Rasa's is) gives
    Sanic's loggers text handlers of their own from this dictionary, and Rasa
    stops them from reaching the root logger: they get the JSON formatter
    and standard error too, for the apps created from now on, and no longer
    reach the root logger's handler as well (a line written twice)."""
    from sanic.log import LOGGING_CONFIG_DEFAULTS
    for name in list(LOGGING_CONFIG_DEFAULTS["formatters"]):
        LOGGING_CONFIG_DEFAULTS["formatters"][name] = {"()": JsonFormatter, "process": process}
    for handler in LOGGING_CONFIG_DEFAULTS["handlers"].values():
        handler["stream"] = sys.stderr
    for logger in LOGGING_CONFIG_DEFAULTS["loggers"].values():
        logger["propagate"] = False
