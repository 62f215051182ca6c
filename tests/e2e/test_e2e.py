"""End to end: every Recorda process started for real (sandbox booking
service, WhatsApp simulator, action server, Rasa with the trained model,
worker); the daily job sends the reminders; citizens tap buttons and write
through the simulator, which signs its webhooks like MessageBird."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

import bot.foundation.clock
from bot import patches
from bot.dev.sandbox.booking_seed import MADRID
from bot.dev.sandbox.citizens import CITIZENS
from bot.dev.stack import Stack
from bot.foundation.phone import to_e164
from bot.foundation.settings import PROJECT_ROOT
from bot.offices.service_days import next_service_day
from bot.reminders.store import ReminderStore
from connectors import whatsapp_cloud_signature as cloud_signature
from connectors.messagebird_signature import HEADER, sign_webhook
from tests.support.http_helpers import call, wait_for
from tests.support.phone_helpers import appointment_id_of, citizen, reminder_of, reply, templates_to, thread

pytestmark = pytest.mark.e2e
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"


# Every test runs once per WhatsApp provider: the same reminders, taps and
# answers through MessageBird and through Meta's Cloud API.
@pytest.fixture(scope="module", params=["messagebird", "whatsapp_cloud"])
def stack(tmp_path_factory, request):
    assert MODEL.exists(), "no trained model: run `make train` (make test does it)"
    stack = Stack.isolated(tmp_path_factory.mktemp("e2e"), status_delays="0.2,0.4,0.6",
                           whatsapp_channel=request.param)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def reminders_sent(stack):
    """Runs the daily job once, as an operator would."""
    result = subprocess.run([sys.executable, "-m", "bot.apps.reminders", "send", "--tomorrow", "--no-progress"],
                            cwd=PROJECT_ROOT, env=stack.env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def booking_get(stack, path):
    return call("GET", f"{stack.booking_url}/api/v1{path}",
                headers={"Authorization": "Bearer sandbox-booking-token"})[1]










def replies_after(stack, msisdn, inbound_id):
    messages = thread(stack, msisdn)
    index = next(i for i, m in enumerate(messages) if m["id"] == inbound_id)
    return [m for m in messages[index + 1:] if m["direction"] == "sent"]


def text_of(message) -> str:
    content = message["content"]
    if message["type"] == "text":
        return content["text"]
    return content["interactive"]["body"]["text"]




def test_each_citizen_with_whatsapp_gets_one_reminder_in_their_language(stack, reminders_sent):
    assert "sent" in reminders_sent and "failed: not_mobile" in reminders_sent
    expectations = {"Montserrat Puig i Ferrer": ("Us recordem", "Confirmo la cita"),
                    "María García López": ("Le recordamos", "Confirmo la cita"),
                    "Emily Thompson": ("This is a reminder", "I'll be there")}
    for name, (phrase, button) in expectations.items():
        message = reminder_of(stack, citizen(name))
        assert phrase in message["rendered"]
        assert [b["title"] for b in message["buttons"]][0] == button
    tomorrow = next_service_day(bot.foundation.clock.now(MADRID).date())
    weekday_ca = ["dilluns", "dimarts", "dimecres", "dijous", "divendres"][tomorrow.weekday()]
    assert weekday_ca in reminder_of(stack, citizen("Montserrat Puig i Ferrer"))["rendered"]
    for c in CITIZENS:
        number = to_e164(c.phone)
        if number and number.startswith("+346"):
            assert len([m for m in thread(stack, number) if m["type"] == "hsm"]) == 1, c.name
    for landline in ("Rosa Vidal Camps", "Francisco Moreno Gil"):
        assert thread(stack, citizen(landline)) == []


def test_tap_cancel_frees_the_slot_and_a_second_tap_says_so(stack, reminders_sent):
    msisdn = citizen("Montserrat Puig i Ferrer")
    reminder = reminder_of(stack, msisdn)
    appointment_id = appointment_id_of(reminder)
    tapped = reply(stack, msisdn, button={"message_id": reminder["id"], "index": 1})
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "cancelled"
    [answer] = wait_for(lambda: replies_after(stack, msisdn, tapped["message"]["id"]))
    assert "anul·lat" in text_of(answer) and "cita-previa" in text_of(answer)
    cancelled_at = booking_get(stack, f"/appointments/{appointment_id}")["cancelled_at"]
    again = reply(stack, msisdn, button={"message_id": reminder["id"], "index": 1})
    [second] = wait_for(lambda: replies_after(stack, msisdn, again["message"]["id"]))
    assert "ja estava anul·lada" in text_of(second)
    assert booking_get(stack, f"/appointments/{appointment_id}")["cancelled_at"] == cancelled_at
    store = ReminderStore(f"sqlite:///{stack.var_dir / 'recorda.db'}")
    events = [e.event for e in store.history(appointment_id)]
    assert store.get(appointment_id).state == "cancelled"
    assert events[:3] == ["scheduled", "sending", "sent"] and "cancelled" in events


def test_a_cancelled_slot_is_offered_to_the_waiting_list_and_taken_with_a_tap(stack, reminders_sent):
    """offices.yml turns the waiting list on: the worker offers the slot a
    citizen cancels to the people waiting for that office and procedure."""
    msisdn = citizen("Oriol Ferrer Mas")
    reminder = reminder_of(stack, msisdn)
    appointment_id = appointment_id_of(reminder)
    freed = booking_get(stack, f"/appointments/{appointment_id}")
    waiting = booking_get(stack, f"/waiting-list?office_id={freed['office_id']}"
                                 f"&procedure_id={freed['procedure_id']}")
    assert waiting, "the seed has people waiting on every list"
    reply(stack, msisdn, button={"message_id": reminder["id"], "index": 1})

    taker = to_e164(waiting[0]["phone"])
    [offer] = wait_for(lambda: templates_to(stack, taker, "recorda_slot_offer"), timeout=60)
    tapped = reply(stack, taker, button={"message_id": offer["id"], "index": 0})

    [answer] = wait_for(lambda: replies_after(stack, taker, tapped["message"]["id"]))
    assert any(word in text_of(answer) for word in ("és vostra", "es suya", "is yours"))
    day = freed["starts_at"][:10]
    taken = [a for a in booking_get(stack, f"/appointments?date={day}&office_id={freed['office_id']}")
             if a["starts_at"] == freed["starts_at"] and to_e164(a["phone"]) == taker]
    assert [a["status"] for a in taken] == ["booked"]
    assert waiting[0]["id"] not in [e["id"] for e in booking_get(
        stack, f"/waiting-list?office_id={freed['office_id']}&procedure_id={freed['procedure_id']}")]


def test_tap_confirm_in_spanish(stack, reminders_sent):
    msisdn = citizen("María García López")
    reminder = reminder_of(stack, msisdn)
    tapped = reply(stack, msisdn, button={"message_id": reminder["id"], "index": 0})
    assert booking_get(stack, f"/appointments/{appointment_id_of(reminder)}")["status"] == "confirmed"
    [answer] = wait_for(lambda: replies_after(stack, msisdn, tapped["message"]["id"]))
    assert "confirmada" in text_of(answer) and "María" in text_of(answer)


def test_a_typed_intent_payload_is_only_text(stack, reminders_sent):
    msisdn = citizen("Jordi Vila Soler")
    appointment_id = appointment_id_of(reminder_of(stack, msisdn))
    sent = reply(stack, msisdn, text=f'/cancel_appointment{{"appointment_id":"{appointment_id}"}}')
    wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "booked"


def test_questions_and_media_get_answers_in_the_citizens_language(stack, reminders_sent):
    msisdn = citizen("Emily Thompson")
    sent = reply(stack, msisdn, text="where is the office? what's the address")
    [answer] = wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    assert "openstreetmap.org" in text_of(answer)
    photo = reply(stack, msisdn, media="image")
    [answer] = wait_for(lambda: replies_after(stack, msisdn, photo["message"]["id"]))
    assert "I can only read text" in text_of(answer)


def test_delivery_statuses_reach_the_reminder_store(stack, reminders_sent):
    store = ReminderStore(f"sqlite:///{stack.var_dir / 'recorda.db'}")
    no_whatsapp = appointment_id_of(reminder_of(stack, citizen("Teresa Solé Vives")))
    reminder = wait_for(lambda: (r := store.get(no_whatsapp)) and r.state == "failed" and r)
    # MessageBird's code for "no WhatsApp account", Meta's for "undeliverable"
    code = {"messagebird": 302, "whatsapp_cloud": 131026}[stack.whatsapp_channel]
    assert (reminder.reason, reminder.error_code) == ("no_whatsapp_account", code)
    read = appointment_id_of(reminder_of(stack, citizen("Pere Martí Bosch")))
    assert wait_for(lambda: store.get(read).state == "read")


def forged_webhooks(stack):
    """(body, headers) of a citizen's message signed with the wrong key, and unsigned."""
    if stack.whatsapp_channel == "whatsapp_cloud":
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages", "value": {"messaging_product": "whatsapp", "messages": [{
                "from": "34634567890", "id": "wamid.forged-1", "timestamp": "1765000000",
                "type": "text", "text": {"body": "anul·la la cita"}}]}}]}]}).encode()
        return [(body, {cloud_signature.HEADER: cloud_signature.sign("not-the-app-secret", body)}),
                (body, {})]
    body = json.dumps({"type": "message.created", "message": {
        "id": "forged-1", "direction": "received", "type": "text", "from": "+34634567890",
        "content": {"text": "anul·la la cita"}}}).encode()
    return [(body, {HEADER: sign_webhook("not-the-key-but-long-enough-0123456789", stack.webhook_url, body)}),
            (body, {HEADER: ""})]


def test_forged_webhook_is_refused(stack):
    for body, headers in forged_webhooks(stack):
        req = urllib.request.Request(stack.webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 401


def test_the_assistant_follows_the_citizen_into_another_language(stack, reminders_sent):
    msisdn = citizen("Núria Casals Roig")  # Catalan in the booking record
    sent = reply(stack, msisdn, text="perdone, ¿qué documentos tengo que traer mañana?")
    [answer] = wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    assert "encontrará la documentación" in text_of(answer)
    assert "vilademar.cat/tramits/" in text_of(answer)
    tapped = reply(stack, msisdn, button={"message_id": reminder_of(stack, msisdn)["id"], "index": 0})
    [confirmed] = wait_for(lambda: replies_after(stack, msisdn, tapped["message"]["id"]))
    assert "Su cita queda confirmada" in text_of(confirmed)  # a tap keeps the language


# --- trust: only the citizen's own WhatsApp, and words never cancel at once --------------------

def test_the_unauthenticated_rest_channel_is_not_served(stack):
    status, _ = call("POST", f"{stack.rasa_url}/webhooks/rest/webhook",
                     {"sender": citizen("Carme Sala Pujol"), "message": "vull anul·lar la meva cita"})
    assert status == 404


def test_a_typed_cancellation_is_asked_first_and_only_the_tap_cancels(stack, reminders_sent):
    msisdn = citizen("Laia Serra Font")
    appointment_id = appointment_id_of(reminder_of(stack, msisdn))
    sent = reply(stack, msisdn, text="Hola, no podré venir demà, tinc febre")
    [question] = wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    assert question["type"] == "interactive" and "Voleu anul·lar la cita" in text_of(question)
    buttons = question["content"]["interactive"]["action"]["buttons"]
    assert [b["title"] for b in buttons] == ["Sí, anul·la-la", "No, mantenir-la"]
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "booked"
    tapped = reply(stack, msisdn, button={"message_id": question["id"], "index": 0})
    [done] = wait_for(lambda: replies_after(stack, msisdn, tapped["message"]["id"]))
    assert "anul·lat" in text_of(done)
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "cancelled"


def test_a_short_si_right_after_the_reminder_confirms(stack, reminders_sent):
    msisdn = citizen("José Fernández Ruiz")
    appointment_id = appointment_id_of(reminder_of(stack, msisdn))
    sent = reply(stack, msisdn, text="si")
    [answer] = wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    assert "queda confirmada" in text_of(answer)
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "confirmed"
    store = ReminderStore(f"sqlite:///{stack.var_dir / 'recorda.db'}")
    assert store.history(appointment_id)[-1].detail == {"channel": "text"}


def test_a_doubt_keeps_the_appointment_and_a_bare_no_asks(stack, reminders_sent):
    unsure = citizen("Daniel O'Connor")
    appointment_id = appointment_id_of(reminder_of(stack, unsure))
    sent = reply(stack, unsure, text="not sure I can make it tbh, will let u know")
    [answer] = wait_for(lambda: replies_after(stack, unsure, sent["message"]["id"]))
    assert answer["type"] == "text" and "still booked" in text_of(answer)
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "booked"

    no = citizen("Lucía Martínez Sánchez")
    appointment_id = appointment_id_of(reminder_of(stack, no))
    sent = reply(stack, no, text="no")
    [question] = wait_for(lambda: replies_after(stack, no, sent["message"]["id"]))
    assert "¿quiere mantener su cita" in text_of(question)
    assert booking_get(stack, f"/appointments/{appointment_id}")["status"] == "booked"


def test_the_language_follows_the_citizen_back(stack, reminders_sent):
    msisdn = citizen("Marc Riera Costa")  # Catalan in the booking record
    sent = reply(stack, msisdn, text="hola, ¿dónde está la oficina?")
    wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    sent = reply(stack, msisdn, text="i quins papers he de portar per al tràmit?")
    [answer] = wait_for(lambda: replies_after(stack, msisdn, sent["message"]["id"]))
    assert "trobareu la documentació" in text_of(answer)


def test_rasa_runs_with_recordas_patches(stack, reminders_sent):
    """The stack starts Rasa through bot.apps.rasa_server: the channel finds
    the patches applied and does not warn."""
    log = (stack.var_dir / "logs" / "Rasa.log").read_text(errors="replace")
    assert f"Recorda: patches applied to Rasa {patches.PINNED_RASA}" in log
    assert "runs without Recorda's patches" not in log
    assert "none applied" not in log


def test_meta_can_subscribe_the_cloud_webhook_with_the_verify_token(stack):
    if stack.whatsapp_channel != "whatsapp_cloud":
        pytest.skip("Meta's verification handshake belongs to the Cloud API channel")
    token = stack.env()["WHATSAPP_CLOUD_VERIFY_TOKEN"]
    url = f"{stack.webhook_url}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token="
    with urllib.request.urlopen(url + urllib.parse.quote(token), timeout=10) as answer:
        assert answer.read() == b"1158201444"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url + "not-the-token", timeout=10)
    assert err.value.code == 403
