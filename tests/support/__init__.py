"""What the test suites share besides fixtures (those are in the conftest.py
files): the booking sandbox, the console, the simulator, MessageBird bodies,
HTTP calls, ... Test modules import these helpers, never each other."""
from __future__ import annotations

from pathlib import Path

# The project's root (bot/, data/, requirements.txt), whatever the test's depth.
ROOT = Path(__file__).resolve().parents[2]

