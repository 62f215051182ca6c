"""The WhatsApp simulator, run as a real process and driven over HTTP, with a
recording webhook receiver standing in for the bot."""
import asyncio
import re

import pytest

from bot.dev.processes import free_port
from connectors.messagebird_signature import HEADER, verify_webhook
from tests.support.simulator import CHANNEL_ID, REMINDER_PARAMETERS, SIGNING_KEY, start_simulator

CITIZEN = "+34612345678"           # Montserrat Puig i Ferrer, on WhatsApp
WITHOUT_WHATSAPP = "+34619283746"  # Teresa Solé Vives, no WhatsApp account


@pytest.fixture(scope="module")
def simulator(receiver):
    with start_simulator(webhook_url=receiver.url) as sim:
        yield sim


@pytest.fixture(autouse=True)
def clean_slate(simulator, receiver):
    simulator.reset()
    receiver.clear()
    receiver.status_code = 200


# ------------------------------------------------------------------ helpers

def text_body(text="Bon dia", to=CITIZEN):
    return {"to": to, "from": CHANNEL_ID, "type": "text", "content": {"text": text}}


def buttons_body(titles=("Sí", "No"), to=CITIZEN):
    buttons = [{"id": f"button-{i}", "type": "reply", "title": t} for i, t in enumerate(titles)]
    return {"to": to, "from": CHANNEL_ID, "type": "interactive", "content": {"interactive": {
        "type": "button", "body": {"text": "Vindràs?"}, "action": {"buttons": buttons}}}}


def list_body(to=CITIZEN):
    rows = [{"id": "docs", "title": "Documentació", "description": "Què cal portar"},
            {"id": "hours", "title": "Horaris"}]
    return {"to": to, "from": CHANNEL_ID, "type": "interactive", "content": {"interactive": {
        "type": "list", "body": {"text": "En què us podem ajudar?"},
        "action": {"button": "Opcions", "sections": [{"title": "Preguntes", "rows": rows}]}}}}


def reminder_body(to=CITIZEN, language="ca", parameters=REMINDER_PARAMETERS,
                  template="recorda_appointment_reminder"):
    components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]
    components += [{"type": "button", "sub_type": "quick_reply", "index": str(i),
                    "parameters": [{"type": "payload", "payload": payload}]}
                   for i, payload in enumerate(["confirm:A-42", "cancel:A-42"])]
    return {"to": to, "from": CHANNEL_ID, "type": "hsm", "content": {"hsm": {
        "namespace": "recorda", "templateName": template, "language": {"code": language},
        "components": components}}}


async def call(http, simulator, method, path, body=None, key="default"):
    headers = simulator.auth_headers if key == "default" else (
        {"Authorization": f"AccessKey {key}"} if key else {})
    async with http.request(method, simulator.url + path, json=body, headers=headers) as reply:
        return reply.status, await reply.json(), reply.headers


async def send(http, simulator, body):
    status, answer, _ = await call(http, simulator, "POST", "/v1/send", body)
    assert status == 202, answer
    return answer["id"]


async def reply(http, simulator, body):
    status, answer, _ = await call(http, simulator, "POST", "/sim/reply", body)
    assert status == 200, answer
    return answer


def statuses(receiver, message_id):
    return [event["message"]["status"] for event in receiver.events(message_id)]


def assert_signed(receiver, request):
    verify_webhook(SIGNING_KEY, request.headers[HEADER.lower()], receiver.url, request.body)


# -------------------------------------------------------------- provider API

@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["wrong-key", None])
async def test_a_bad_or_missing_access_key_is_refused(http, simulator, key):
    status, answer, _ = await call(http, simulator, "POST", "/v1/send", text_body(), key=key)
    assert status == 401
    assert answer == {"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)",
                                  "parameter": "access_key"}]}


def _with(body, change):
    change(body)
    return body


MALFORMED = {
    "four buttons": buttons_body(("A", "B", "C", "D")),
    "button title too long": buttons_body(("Confirmo la cita, gràcies",)),
    "duplicate button ids": _with(buttons_body(("A", "B")),
                                  lambda b: b["content"]["interactive"]["action"]["buttons"][1]
                                  .update(id="button-0")),
    "eleven list rows": _with(list_body(), lambda b: b["content"]["interactive"]["action"]["sections"][0]
                              .update(rows=[{"id": str(i), "title": f"Fila {i}"} for i in range(11)])),
    "unknown template": reminder_body(template="no_such_template"),
    "template not in that language": reminder_body(language="fr"),
    "wrong parameter count": reminder_body(parameters=REMINDER_PARAMETERS[:5]),
    "from is not the channel": _with(text_body(), lambda b: b.update({"from": "+34600000000"})),
    "unparseable recipient": text_body(to="12"),
    "unsupported type": _with(text_body(), lambda b: b.update(type="carousel")),
    "empty text": text_body(text=""),
    "image without url": _with(text_body(), lambda b: b.update(type="image", content={"image": {}})),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_sends_get_422_with_the_error_envelope(http, simulator, case):
    status, answer, _ = await call(http, simulator, "POST", "/v1/send", MALFORMED[case])
    assert status == 422
    [error] = answer["errors"]
    assert isinstance(error["code"], int) and error["description"] and "parameter" in error


@pytest.mark.asyncio
async def test_a_send_is_accepted_then_sent_delivered_read_by_signed_webhooks(http, simulator, receiver):
    status, answer, _ = await call(http, simulator, "POST", "/v1/send", text_body())
    assert status == 202 and answer["status"] == "accepted"
    assert re.fullmatch(r"[0-9a-f]{32}", answer["id"])

    requests = await receiver.wait_for(lambda r: len(r) == 3)
    assert statuses(receiver, answer["id"]) == ["sent", "delivered", "read"]
    for request in requests:
        assert_signed(receiver, request)
        assert request.headers["content-type"] == "application/json"
        event = request.json
        assert event["type"] == "message.updated"
        assert event["contact"]["msisdn"] == 34612345678
        assert event["contact"]["displayName"] == "Montserrat Puig i Ferrer"
        assert event["conversation"]["status"] == "active"
        assert event["message"]["direction"] == "sent" and event["message"]["to"] == CITIZEN

    status, message, _ = await call(http, simulator, "GET", f"/v1/messages/{answer['id']}")
    assert status == 200 and message["status"] == "read" and message["updatedDatetime"].endswith("Z")


@pytest.mark.asyncio
async def test_reading_a_message_needs_the_key_and_an_existing_id(http, simulator):
    status, _, _ = await call(http, simulator, "GET", "/v1/messages/" + "0" * 32, key="wrong")
    assert status == 401
    status, answer, _ = await call(http, simulator, "GET", "/v1/messages/" + "0" * 32)
    assert status == 404 and answer["errors"][0]["code"] == 20


@pytest.mark.asyncio
async def test_a_number_without_whatsapp_fails_asynchronously_with_302(http, simulator, receiver):
    message_id = await send(http, simulator, reminder_body(to="34619283746"))
    await receiver.wait_for(lambda r: len(r) == 1)
    await asyncio.sleep(0.2)  # nothing else may follow a failure
    [event] = receiver.events(message_id)
    assert event["message"]["status"] == "failed"
    assert event["message"]["error"] == {"code": 302, "description": "contact is not registered on WhatsApp"}


@pytest.mark.asyncio
async def test_numbers_can_lose_whatsapp_at_run_time(http, simulator, receiver):
    status, _, _ = await call(http, simulator, "POST", "/sim/no-whatsapp", {"msisdn": "+34 611 223 344"})
    assert status == 200
    message_id = await send(http, simulator, text_body(to="+34611223344"))
    await receiver.wait_for(lambda r: len(r) == 1)
    assert statuses(receiver, message_id) == ["failed"]


@pytest.mark.asyncio
async def test_faults_fail_the_next_sends_then_sends_succeed_again(http, simulator):
    await call(http, simulator, "POST", "/sim/faults", {"status": 429, "count": 1})
    status, answer, headers = await call(http, simulator, "POST", "/v1/send", text_body())
    assert status == 429 and headers["Retry-After"] == "0"
    assert isinstance(answer["errors"][0]["code"], int)
    await send(http, simulator, text_body())

    await call(http, simulator, "POST", "/sim/faults", {"status": 503, "count": 1})
    status, _, _ = await call(http, simulator, "POST", "/v1/send", text_body())
    assert status == 503
    await send(http, simulator, text_body())


# --------------------------------------------------------------- citizen side

@pytest.mark.asyncio
async def test_a_citizen_writes_text(http, simulator, receiver):
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "text": "/confirm_appointment"})
    assert answer["webhook_statuses"] == [200]
    [request] = receiver.requests
    assert_signed(receiver, request)
    event = request.json
    assert event["type"] == "message.created"
    message = event["message"]
    assert message == answer["message"]
    assert (message["direction"], message["status"], message["type"]) == ("received", "received", "text")
    assert (message["from"], message["to"]) == (CITIZEN, CHANNEL_ID)
    assert message["content"] == {"text": "/confirm_appointment"}


@pytest.mark.asyncio
async def test_answering_marks_what_the_citizen_got_as_read_once(http, simulator, receiver):
    message_id = await send(http, simulator, text_body())
    await reply(http, simulator, {"msisdn": CITIZEN, "text": "D'acord"})
    await asyncio.sleep(0.3)  # the delivery timer must not repeat the steps
    assert statuses(receiver, message_id) == ["sent", "delivered", "read"]
    kinds = [event["type"] for event in receiver.events()]
    assert kinds.index("message.created") == 3  # the read receipt comes before the answer


@pytest.mark.asyncio
async def test_tapping_an_interactive_button(http, simulator, receiver):
    message_id = await send(http, simulator, buttons_body(("Confirmo", "Anul·lo")))
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "button": {"message_id": message_id, "index": 1}})
    message = answer["message"]
    assert message["type"] == "interactive"
    assert message["content"] == {"interactive": {"type": "button_reply",
                                                  "reply": {"id": "button-1", "text": "Anul·lo"}}}
    assert message["replyTo"] == {"id": message_id}


@pytest.mark.asyncio
async def test_tapping_a_list_row(http, simulator):
    message_id = await send(http, simulator, list_body())
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "button": {"message_id": message_id, "index": 0}})
    assert answer["message"]["content"] == {"interactive": {"type": "list_reply", "reply": {
        "id": "docs", "text": "Documentació", "description": "Què cal portar"}}}


@pytest.mark.asyncio
async def test_tapping_a_template_quick_reply_sends_its_payload(http, simulator):
    message_id = await send(http, simulator, reminder_body(language="es"))
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "button": {"message_id": message_id, "index": 0}})
    message = answer["message"]
    assert message["type"] == "button"
    assert message["content"] == {"button": {"text": "Confirmo la cita", "payload": "confirm:A-42"}}
    assert message["replyTo"] == {"id": message_id}


@pytest.mark.asyncio
async def test_taps_must_match_a_received_message(http, simulator):
    message_id = await send(http, simulator, buttons_body())
    for body in ({"msisdn": "+34623456789", "button": {"message_id": message_id, "index": 0}},
                 {"msisdn": CITIZEN, "button": {"message_id": message_id, "index": 2}},
                 {"msisdn": CITIZEN, "text": "hola", "button": {"message_id": message_id, "index": 0}}):
        status, _, _ = await call(http, simulator, "POST", "/sim/reply", body)
        assert status in (404, 422)


@pytest.mark.asyncio
@pytest.mark.parametrize("media, kind, key", [("image", "image", "url"), ("audio", "audio", "url"),
                                              ("location", "location", "latitude"),
                                              ("sticker", "whatsappSticker", "link")])
async def test_a_citizen_sends_media(http, simulator, receiver, media, kind, key):
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "media": media})
    assert answer["message"]["type"] == kind
    assert key in answer["message"]["content"][kind]
    assert receiver.events()[0]["message"]["type"] == kind


@pytest.mark.asyncio
async def test_a_duplicate_delivery_sends_the_identical_body_twice(http, simulator, receiver):
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "text": "Hola", "deliveries": 2})
    assert answer["webhook_statuses"] == [200, 200]
    first, second = receiver.requests
    assert first.body == second.body
    assert_signed(receiver, first)
    assert_signed(receiver, second)


@pytest.mark.asyncio
async def test_a_citizen_without_whatsapp_cannot_write(http, simulator):
    status, _, _ = await call(http, simulator, "POST", "/sim/reply", {"msisdn": WITHOUT_WHATSAPP, "text": "Hola"})
    assert status == 409


# ------------------------------------------------------- inspection & phone

@pytest.mark.asyncio
async def test_messages_show_the_rendered_template_and_its_buttons(http, simulator):
    message_id = await send(http, simulator, reminder_body())
    await reply(http, simulator, {"msisdn": CITIZEN, "text": "Gràcies"})
    status, messages, _ = await call(http, simulator, "GET", "/sim/messages?msisdn=%2B34612345678")
    assert status == 200
    reminder, answer = messages
    assert reminder["id"] == message_id and answer["direction"] == "received"
    assert reminder["rendered"].startswith("Hola, Montserrat. Us recordem la vostra cita prèvia")
    assert "Renovació del DNI" in reminder["rendered"] and "{{" not in reminder["rendered"]
    assert reminder["buttons"] == [{"index": 0, "title": "Confirmo la cita"},
                                   {"index": 1, "title": "Anul·la la cita"}]
    status, everything, _ = await call(http, simulator, "GET", "/sim/messages")
    assert [m["id"] for m in everything] == [m["id"] for m in messages]


@pytest.mark.asyncio
async def test_contacts_list_the_sandbox_citizens_and_numbers_seen(http, simulator):
    await send(http, simulator, text_body(to="+34699999999"))
    _, contacts, _ = await call(http, simulator, "GET", "/sim/contacts")
    by_number = {c["msisdn"]: c for c in contacts}
    assert by_number[CITIZEN]["name"] == "Montserrat Puig i Ferrer"
    assert by_number[WITHOUT_WHATSAPP]["has_whatsapp"] is False
    assert by_number["+34699999999"]["message_count"] == 1


@pytest.mark.asyncio
async def test_the_phone_page_and_its_files_are_served(http, simulator):
    for path in ("/", "/static/phone.js", "/static/phone.css"):
        async with http.get(simulator.url + path) as page:
            assert page.status == 200, path


@pytest.mark.asyncio
async def test_webhooks_are_logged_with_their_http_status(http, simulator, receiver):
    receiver.status_code = 500
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "text": "Hola"})
    assert answer["webhook_statuses"] == [500]
    _, log, _ = await call(http, simulator, "GET", "/sim/webhooks")
    assert [(e["type"], e["message_id"], e["status_code"]) for e in log] == [
        ("message.created", answer["message"]["id"], 500)]


@pytest.mark.asyncio
async def test_an_unreachable_webhook_target_does_not_stop_the_simulator(http):
    down = f"http://127.0.0.1:{free_port()}/webhooks/messagebird/webhook"
    with start_simulator(webhook_url=down) as simulator:
        message_id = await send(http, simulator, text_body())
        answer = await reply(http, simulator, {"msisdn": CITIZEN, "text": "Hola"})
        assert answer["webhook_statuses"] == [None]
        await asyncio.sleep(0.3)
        _, log, _ = await call(http, simulator, "GET", "/sim/webhooks")
        assert {e["status_code"] for e in log} == {None}
        _, message, _ = await call(http, simulator, "GET", f"/v1/messages/{message_id}")
        assert message["status"] == "read"
