"""The action server as a town runs it (`python -m bot.apps.action_server`): closed
to anyone without Rasa's shared secret, on 127.0.0.1 unless told otherwise,
and even with the secret, a made-up tracker changes no appointment."""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Tuple

import pytest

import bot.foundation.clock
from bot.booking import Appointment
from bot.dev import processes
from bot.dev.processes import ChildProcess, free_port
from bot.dev.sandbox.booking_seed import MADRID, OFFICES
from bot.foundation.phone import check_for_whatsapp
from bot.offices.service_days import next_service_day
from tests.support import ROOT
from tests.support.http_helpers import call

TOKEN = "a-test-action-token-of-32-chars!"


def _listening_addresses(port: int) -> set:
    """The local IPv4 addresses a TCP socket listens on at `port` (/proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def _start(tmp_path, env_extra, args=()) -> Tuple[int, ChildProcess]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), RECORDA_DB_URL=f"sqlite:///{tmp_path / 'recorda.db'}",
               RECORDA_VAR_DIR=str(tmp_path), **env_extra)
    child = processes.start("the action server", [sys.executable, "-m", "bot.apps.action_server",
                                                  "--port", str(port), *args],
                            tmp_path / f"actions-{port}.log", env)
    return port, child


@pytest.fixture(scope="module")
def action_server(booking_service, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("actions")
    port, child = _start(tmp, {"RECORDA_ACTION_TOKEN": TOKEN,
                               "RECORDA_BOOKING_URL": booking_service.api_url,
                               "RECORDA_BOOKING_TOKEN": booking_service.token})
    try:
        processes.wait_healthy(child, f"http://127.0.0.1:{port}/health", timeout=60, interval=0.2)
        yield f"http://127.0.0.1:{port}", port
    finally:
        processes.stop(child.process, timeout=10)


@pytest.fixture(scope="module")
def victim(booking_service):
    """A citizen's booked appointment on the next service day."""
    day = next_service_day(bot.foundation.clock.now(MADRID).date())
    for office in OFFICES:
        status, body = booking_service.request(
            "GET", f"/api/v1/appointments?date={day.isoformat()}&office_id={office['id']}")
        for appointment in map(Appointment.from_dict, body):
            if appointment.status == "booked" and check_for_whatsapp(appointment.phone).usable:
                return appointment
    pytest.fail("no booked appointment with a mobile in the seed")


def forged_call(appointment: Appointment, action: str = "action_cancel_appointment") -> dict:
    """What an attacker who reaches the action server would post: a tracker
    claiming the citizen tapped Cancel on WhatsApp."""
    phone = check_for_whatsapp(appointment.phone).e164
    text = f'/cancel_appointment{{"appointment_id":"{appointment.id}"}}'
    latest = {"text": text, "intent": {"name": "cancel_appointment", "confidence": 1.0},
              "entities": [{"entity": "appointment_id", "value": appointment.id}], "intent_ranking": []}
    return {"next_action": action, "sender_id": phone, "version": "3.6.21", "tracker": {
        "sender_id": phone, "slots": {"language": "ca", "appointment_id": appointment.id},
        "latest_message": latest, "latest_event_time": time.time(), "followup_action": None,
        "paused": False, "events": [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "parse_data": latest, "input_channel": "messagebird",
             "message_id": "wamid.forged", "metadata": {"kind": "button"}}],
        "latest_input_channel": "messagebird", "active_loop": {},
        "latest_action": {"action_name": "action_listen"}, "latest_action_name": "action_listen"}}


def status_of(booking_service, appointment: Appointment) -> str:
    return booking_service.request("GET", f"/api/v1/appointments/{appointment.id}")[1]["status"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-of-some-length"},
                                     {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}],
                         ids=["none", "wrong", "no scheme", "basic"])
def test_a_call_without_the_shared_secret_runs_nothing(headers, action_server, victim, booking_service):
    url, _ = action_server
    status, body = call("POST", f"{url}/webhook", forged_call(victim), headers=headers)
    assert status == 401, body
    assert status_of(booking_service, victim) == "booked"
    assert call("GET", f"{url}/actions", headers=headers)[0] == 401


def test_with_the_secret_a_made_up_tracker_still_changes_nothing(action_server, victim, booking_service):
    url, _ = action_server
    status, body = call("POST", f"{url}/webhook", forged_call(victim),
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    assert "des del WhatsApp" in json.dumps(body, ensure_ascii=False)
    assert status_of(booking_service, victim) == "booked"


def test_health_is_open_and_errors_do_not_echo_the_request(action_server):
    url, _ = action_server
    assert call("GET", f"{url}/health")[0] == 200
    status, body = call("POST", f"{url}/webhook", {"next_action": "action_cancel_appointment",
                                                    "tracker": "not a tracker", "secret": "echo-me"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert status in (400, 500)
    assert "echo-me" not in json.dumps(body)


def test_it_listens_on_loopback_only_by_default(action_server):
    _, port = action_server
    assert _listening_addresses(port) == {"127.0.0.1"}


def test_it_refuses_to_start_without_a_secret(tmp_path):
    _, child = _start(tmp_path, {"RECORDA_ACTION_TOKEN": ""})
    assert child.process.wait(timeout=60) == 2
    assert "RECORDA_ACTION_TOKEN" in child.log_path.read_text()


def test_a_negative_content_length_gets_400_and_the_server_keeps_answering(action_server):
    """Sanic 21.12 spins on it and stops answering everyone (bot.patches.sanic_guard,
    applied by the action server, the Rasa server's channel and the web app)."""
    url, port = action_server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                      f"Authorization: Bearer {TOKEN}\r\n\r\n").encode())
        assert sock.recv(200).startswith(b"HTTP/1.1 400")
    assert call("GET", f"{url}/health")[0] == 200


def test_rasa_reads_the_secret_from_the_environment_into_its_calls(monkeypatch):
    """endpoints.yml as Rasa reads it: the header carries the expanded secret
    (a quoted "${VAR}" would reach the action server literally: 401)."""
    from rasa.utils.endpoints import read_endpoint_config
    monkeypatch.setenv("RECORDA_ACTION_TOKEN", TOKEN)
    endpoint = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    assert endpoint.headers == {"Authorization": f"Bearer {TOKEN}"}
