"""Shared pytest fixtures. Test modules that start real servers keep their
own fixtures beside them (booking_fixtures, simulator_fixtures, ...)."""
from __future__ import annotations

import os
import socket

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'recorda.db'}"


def pytest_configure(config):
    # Several Sanic apps are started in one test process; test mode lets
    # Sanic 21.12 set each one up from scratch.
    from sanic import Sanic
    Sanic.test_mode = True
