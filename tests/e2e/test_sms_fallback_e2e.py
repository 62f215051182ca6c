"""The SMS fallback end to end, every Recorda process started for real:
WhatsApp fails -> one SMS -> the link -> cancel on the page (its parts:
tests/integration/test_sms_fallback.py)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from typing import List
from urllib.parse import quote

import pytest

from bot.foundation.phone import to_e164
from bot.foundation.settings import PROJECT_ROOT
from bot.reminders import states
from bot.reminders.store import ReminderStore
from tests.support.http_helpers import call, wait_for
from tests.support.phone_helpers import form_token


@pytest.fixture(scope="module")
def sms_stack(tmp_path_factory):
    from bot.dev.stack import Stack
    model = PROJECT_ROOT / "models" / "current.tar.gz"
    assert model.exists(), "no trained model: run `make train` (make test does it)"
    var_dir = tmp_path_factory.mktemp("sms-e2e")
    # The sandbox puts citizens in offices at random: the fallback on for all.
    offices = var_dir / "offices.yml"
    offices.write_text("defaults:\n  sms_fallback: true\n")
    stack = Stack.isolated(var_dir, status_delays="0.2,0.4,0.6",
                           extra_env={"RECORDA_OFFICES_FILE": str(offices)})
    try:
        stack.start()
        result = subprocess.run([sys.executable, "-m", "bot.apps.reminders", "send", "--tomorrow", "--no-progress"],
                                cwd=PROJECT_ROOT, env=stack.env(), capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        yield stack
    finally:
        stack.stop()


def sms_of(stack, msisdn: str) -> List[dict]:
    status, messages = call("GET", f"{stack.simulator_url}/sim/messages?msisdn={quote(msisdn)}")
    return [m for m in messages if m["type"] == "sms"]


@pytest.mark.e2e
def test_no_whatsapp_citizen_gets_one_sms_and_cancels_through_its_link(sms_stack):
    stack = sms_stack
    teresa, manuel = to_e164("619 283 746"), to_e164("628 374 651")
    [sms] = wait_for(lambda: sms_of(stack, teresa), timeout=60)
    assert sms["originator"] == "Ajuntament" and sms["parts"] <= 2
    assert "Confirmeu o anul.leu aqui" in sms["body"]
    [sms_es] = wait_for(lambda: sms_of(stack, manuel), timeout=60)
    assert "Confirme o anule aqui" in sms_es["body"]
    link = re.search(r"(http://\S+/c/\S+)", sms["body"]).group(1)
    assert link.startswith(stack.web_url + "/c/")
    status, html = call("GET", link)
    assert status == 200 and "Anul·la la cita" in html
    token = form_token(html)
    store = ReminderStore(f"sqlite:///{stack.var_dir / 'recorda.db'}")
    appointment_id = sms["reference"]
    assert store.get(appointment_id).reason == "no_whatsapp_account"
    status, done = call("POST", link + "/cancel", form={"form": token})
    assert status == 200 and "Hem anul·lat la vostra cita" in done.replace("&#x27;", "'")
    booking_api = f"{stack.booking_url}/api/v1/appointments/{appointment_id}"
    req = urllib.request.Request(booking_api, headers={"Authorization": "Bearer sandbox-booking-token"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        appointment = json.loads(resp.read())
    assert appointment["status"] == "cancelled"
    reminder = store.get(appointment_id)
    assert reminder.state == states.CANCELLED
    history = store.history(appointment_id)
    assert [e.event for e in history].count("sms_sent") == 1
    assert history[-1].event == "cancelled" and history[-1].detail == {"channel": "sms"}
    # The same link again: refused as used, nothing changed.
    status, again = call("POST", link + "/cancel", form={"form": token})
    assert status == 410
    status, confirm = call("POST", link + "/confirm", form={"form": token})
    assert status == 410
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["cancelled_at"] == appointment["cancelled_at"]
    assert len(store.history(appointment_id)) == len(history)
    # The worker keeps running: still one SMS each.
    time.sleep(2)
    assert len(sms_of(stack, teresa)) == 1 and len(sms_of(stack, manuel)) == 1
