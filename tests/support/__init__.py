"""What the test suites share besides fixtures (those are in the conftest.py
files): the booking sandbox, the console, the simulator, MessageBird bodies,
HTTP calls, ... Test modules import these helpers, never each other."""
from __future__ import annotations

import socket
from pathlib import Path

# The project's root (bot/, data/, requirements.txt), whatever the test's depth.
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
