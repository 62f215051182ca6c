"""The WhatsApp simulator playing Meta's Cloud API (`--provider
whatsapp_cloud`), run as a real process and driven over HTTP, with a
recording webhook receiver standing in for the bot. The citizen's side
(/sim/reply, /sim/messages) is the same as in MessageBird mode."""
import asyncio
import hashlib
import hmac
import re

import pytest

from tests.support.simulator import REMINDER_PARAMETERS, start_simulator, webhook_receiver

TOKEN = "test-cloud-access-token"
APP_SECRET = "test-cloud-app-secret"
PHONE_NUMBER_ID = "123456789012345"
VERSION = "v24.0"
SEND_PATH = f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
CITIZEN = "+34612345678"           # Montserrat Puig i Ferrer, on WhatsApp
CITIZEN_WA_ID = "34612345678"
WITHOUT_WHATSAPP = "34619283746"   # Teresa Solé Vives, no WhatsApp account
TEMPLATE_PRICING = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}


@pytest.fixture(scope="module")
def receiver():
    with webhook_receiver(path="/webhooks/whatsapp_cloud/webhook") as recorder:
        yield recorder


@pytest.fixture(scope="module")
def simulator(receiver):
    options = ["--provider", "whatsapp_cloud", "--cloud-access-token", TOKEN,
               "--cloud-app-secret", APP_SECRET, "--cloud-phone-number-id", PHONE_NUMBER_ID]
    with start_simulator(webhook_url=receiver.url, extra_args=options) as sim:
        yield sim


@pytest.fixture(autouse=True)
def clean_slate(simulator, receiver):
    simulator.reset()
    receiver.clear()
    receiver.status_code = 200


# ------------------------------------------------------------------ helpers

def text_body(text="Bon dia", to=CITIZEN_WA_ID):
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "text", "text": {"body": text, "preview_url": False}}


def buttons_body(titles=("Sí", "No"), to=CITIZEN_WA_ID):
    buttons = [{"type": "reply", "reply": {"id": f"button-{i}", "title": t}} for i, t in enumerate(titles)]
    return {"messaging_product": "whatsapp", "to": to, "type": "interactive", "interactive": {
        "type": "button", "body": {"text": "Vindràs?"}, "action": {"buttons": buttons}}}


def list_body(rows=None, to=CITIZEN_WA_ID):
    rows = rows or [{"id": "docs", "title": "Documentació", "description": "Què cal portar"},
                    {"id": "hours", "title": "Horaris"}]
    return {"messaging_product": "whatsapp", "to": to, "type": "interactive", "interactive": {
        "type": "list", "body": {"text": "En què us podem ajudar?"},
        "action": {"button": "Opcions", "sections": [{"title": "Preguntes", "rows": rows}]}}}


def reminder_body(to=CITIZEN_WA_ID, language="ca", parameters=REMINDER_PARAMETERS,
                  template="recorda_appointment_reminder", index="1"):
    components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}]
    components += [{"type": "button", "sub_type": "quick_reply", "index": i,
                    "parameters": [{"type": "payload", "payload": payload}]}
                   for i, payload in (("0", "confirm:A-42"), (index, "cancel:A-42"))]
    return {"messaging_product": "whatsapp", "to": to, "type": "template", "template": {
        "name": template, "language": {"code": language}, "components": components}}


def _with(body, change):
    change(body)
    return body


async def call(http, simulator, method, path, body=None, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, simulator.url + path, json=body, headers=headers) as reply:
        return reply.status, await reply.json(), reply.headers


async def send(http, simulator, body):
    status, answer, _ = await call(http, simulator, "POST", SEND_PATH, body)
    assert status == 200, answer
    return answer["messages"][0]["id"]


async def reply(http, simulator, body):
    status, answer, _ = await call(http, simulator, "POST", "/sim/reply", body)
    assert status == 200, answer
    return answer


def values(receiver):
    """Every change's value, in the order the webhooks came, each checked for Meta's envelope."""
    listed = []
    for request in receiver.requests:
        body = request.json
        assert body["object"] == "whatsapp_business_account"
        for entry in body["entry"]:
            for change in entry["changes"]:
                assert change["field"] == "messages"
                assert change["value"]["messaging_product"] == "whatsapp"
                assert change["value"]["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
                listed.append(change["value"])
    return listed


def statuses(receiver, wamid):
    return [s for value in values(receiver) for s in value.get("statuses", []) if s["id"] == wamid]


def inbound(receiver):
    return [m for value in values(receiver) for m in value.get("messages", [])]


def assert_signed(request):
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-hub-signature-256"], expected)


def assert_meta_error(answer, code):
    error = answer["error"]
    assert error["code"] == code, error
    assert error["message"] and error["type"] and error["fbtrace_id"]
    return error


# -------------------------------------------------------------- the send API

@pytest.mark.asyncio
async def test_a_text_is_accepted_with_a_wamid_then_sent_delivered_read_by_signed_webhooks(
        http, simulator, receiver):
    status, answer, _ = await call(http, simulator, "POST", SEND_PATH, text_body(to="+34 612 34 56 78"))
    assert status == 200
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "+34 612 34 56 78", "wa_id": CITIZEN_WA_ID}]
    [message] = answer["messages"]
    assert re.fullmatch(r"wamid\.[A-Za-z0-9+/=]+", message["id"])

    requests = await receiver.wait_for(lambda r: len(r) == 3)
    for request in requests:
        assert_signed(request)
        assert request.headers["content-type"] == "application/json"
    sent, delivered, read = statuses(receiver, message["id"])
    assert [s["status"] for s in (sent, delivered, read)] == ["sent", "delivered", "read"]
    for status_update in (sent, delivered, read):
        assert status_update["recipient_id"] == CITIZEN_WA_ID and status_update["timestamp"].isdigit()
    # A free-form message in the citizen's window is a free service message.
    assert sent["pricing"] == delivered["pricing"] == {
        "billable": False, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"}
    assert "pricing" not in read


@pytest.mark.asyncio
async def test_a_template_is_paid_utility_pricing_on_its_statuses(http, simulator, receiver):
    status, answer, _ = await call(http, simulator, "POST", SEND_PATH, reminder_body())
    assert status == 200 and answer["messages"][0]["message_status"] == "accepted"
    wamid = answer["messages"][0]["id"]
    await receiver.wait_for(lambda r: len(r) == 3)
    listed = statuses(receiver, wamid)
    assert [s["status"] for s in listed] == ["sent", "delivered", "read"]
    assert [s.get("pricing") for s in listed] == [TEMPLATE_PRICING, TEMPLATE_PRICING, None]


@pytest.mark.asyncio
@pytest.mark.parametrize("body", [buttons_body(), list_body(), _with(text_body(), lambda b: b.update(
    type="image", image={"link": "https://example.org/map.png", "caption": "El mapa"}))],
    ids=["buttons", "list", "image"])
async def test_other_valid_sends_are_accepted(http, simulator, body):
    assert (await send(http, simulator, body)).startswith("wamid.")


@pytest.mark.asyncio
@pytest.mark.parametrize("token", ["wrong-token", None])
async def test_a_bad_or_missing_token_is_refused(http, simulator, token):
    status, answer, _ = await call(http, simulator, "POST", SEND_PATH, text_body(), token=token)
    assert status == 401
    assert assert_meta_error(answer, 190)["type"] == "OAuthException"


@pytest.mark.asyncio
async def test_another_phone_number_id_or_a_bad_version_is_refused(http, simulator):
    status, answer, _ = await call(http, simulator, "POST", f"/{VERSION}/999/messages", text_body())
    assert status == 400 and assert_meta_error(answer, 100)["error_subcode"] == 33
    status, answer, _ = await call(http, simulator, "POST", f"/latest/{PHONE_NUMBER_ID}/messages", text_body())
    assert status == 400 and assert_meta_error(answer, 2500)


MALFORMED = {
    "no messaging_product": (_with(text_body(), lambda b: b.pop("messaging_product")), 400, 131008),
    "another messaging_product": (_with(text_body(), lambda b: b.update(messaging_product="sms")), 400, 131009),
    "text too long": (text_body(text="x" * 4097), 400, 100),
    "empty text": (text_body(text=""), 400, 100),
    "four buttons": (buttons_body(("A", "B", "C", "D")), 400, 131009),
    "button title too long": (buttons_body(("Confirmo la cita, gràcies",)), 400, 100),
    "duplicate button titles": (buttons_body(("A", "A")), 400, 131009),
    "duplicate button ids": (_with(buttons_body(("A", "B")), lambda b: b["interactive"]["action"]["buttons"][1]
                                   ["reply"].update(id="button-0")), 400, 131009),
    "button id too long": (_with(buttons_body(("A",)), lambda b: b["interactive"]["action"]["buttons"][0]
                                 ["reply"].update(id="x" * 257)), 400, 100),
    "eleven list rows": (list_body([{"id": str(i), "title": f"Fila {i}"} for i in range(11)]), 400, 131009),
    "unknown template": (reminder_body(template="no_such_template"), 404, 132001),
    "template not in that language": (reminder_body(language="fr"), 404, 132001),
    "wrong parameter count": (reminder_body(parameters=REMINDER_PARAMETERS[:5]), 400, 132000),
    "quick reply not in the template": (reminder_body(index="2"), 400, 131009),
    "unparseable recipient": (text_body(to="12"), 400, 100),
    "unsupported type": (_with(text_body(), lambda b: b.update(type="carousel")), 400, 100),
    "image without link": (_with(text_body(), lambda b: b.update(type="image", image={})), 400, 131008),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", MALFORMED)
async def test_malformed_sends_are_refused_in_metas_error_envelope(http, simulator, receiver, case):
    body, http_status, code = MALFORMED[case]
    status, answer, _ = await call(http, simulator, "POST", SEND_PATH, body)
    assert status == http_status
    error = assert_meta_error(answer, code)
    assert error["error_data"]["details"]
    await asyncio.sleep(0.2)
    assert receiver.requests == []  # a refused send never reaches a phone


@pytest.mark.asyncio
async def test_a_body_that_is_not_json_is_refused(http, simulator):
    async with http.post(simulator.url + SEND_PATH, data=b"to=34612345678",
                         headers={"Authorization": f"Bearer {TOKEN}"}) as answer:
        assert answer.status == 400
        assert_meta_error(await answer.json(), 100)


@pytest.mark.asyncio
async def test_a_number_without_whatsapp_gets_a_failed_status_with_131026(http, simulator, receiver):
    wamid = await send(http, simulator, reminder_body(to=WITHOUT_WHATSAPP))
    await receiver.wait_for(lambda r: len(r) == 1)
    await asyncio.sleep(0.2)  # nothing else may follow a failure
    [failed] = statuses(receiver, wamid)
    assert failed["status"] == "failed" and "pricing" not in failed
    [error] = failed["errors"]
    assert error["code"] == 131026 and error["title"] and error["error_data"]["details"]
    assert_signed(receiver.requests[0])


@pytest.mark.asyncio
@pytest.mark.parametrize("fault, code", [(429, 130429), (500, 131000), (503, 131016)])
async def test_faults_fail_the_next_send_in_metas_shape_then_sends_succeed(http, simulator, fault, code):
    await call(http, simulator, "POST", "/sim/faults", {"status": fault, "count": 1})
    status, answer, _ = await call(http, simulator, "POST", SEND_PATH, text_body())
    assert status == fault
    assert_meta_error(answer, code)
    await send(http, simulator, text_body())


@pytest.mark.asyncio
async def test_the_messagebird_api_is_not_served(http, simulator):
    status, answer, _ = await call(http, simulator, "POST", "/v1/send", {"to": CITIZEN})
    assert status == 404 and "error" in answer
    _, health, _ = await call(http, simulator, "GET", "/sim/health")
    assert health["provider"] == "whatsapp_cloud" and health["channelId"] == PHONE_NUMBER_ID


# --------------------------------------------------------------- citizen side

@pytest.mark.asyncio
async def test_a_citizen_writes_text(http, simulator, receiver):
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "text": "/confirm_appointment"})
    assert answer["webhook_statuses"] == [200]
    [request] = receiver.requests
    assert_signed(request)
    [value] = values(receiver)
    assert value["contacts"] == [{"profile": {"name": "Montserrat Puig i Ferrer"}, "wa_id": CITIZEN_WA_ID}]
    [message] = value["messages"]
    assert message["id"] == answer["message"]["id"] and message["id"].startswith("wamid.")
    assert (message["from"], message["type"]) == (CITIZEN_WA_ID, "text")
    assert message["text"] == {"body": "/confirm_appointment"} and message["timestamp"].isdigit()
    assert "context" not in message


@pytest.mark.asyncio
async def test_tapping_a_template_quick_reply_sends_a_button_message_in_its_context(http, simulator, receiver):
    wamid = await send(http, simulator, reminder_body(language="es"))
    await reply(http, simulator, {"msisdn": CITIZEN, "button": {"message_id": wamid, "index": 1}})
    [message] = inbound(receiver)
    assert message["type"] == "button"
    assert message["button"] == {"payload": "cancel:A-42", "text": "Anular la cita"}
    assert message["context"]["id"] == wamid and message["context"]["from"].isdigit()
    # Answering reads the reminder first: its read receipt comes before the tap.
    assert [s["status"] for s in statuses(receiver, wamid)][-1] == "read"


@pytest.mark.asyncio
async def test_tapping_an_interactive_button_sends_a_button_reply(http, simulator, receiver):
    wamid = await send(http, simulator, buttons_body(("Confirmo", "Anul·lo")))
    await reply(http, simulator, {"msisdn": CITIZEN, "button": {"message_id": wamid, "index": 1}})
    [message] = inbound(receiver)
    assert message["type"] == "interactive" and message["context"]["id"] == wamid
    assert message["interactive"] == {"type": "button_reply",
                                      "button_reply": {"id": "button-1", "title": "Anul·lo"}}


@pytest.mark.asyncio
async def test_tapping_a_list_row_sends_a_list_reply(http, simulator, receiver):
    wamid = await send(http, simulator, list_body())
    await reply(http, simulator, {"msisdn": CITIZEN, "button": {"message_id": wamid, "index": 0}})
    [message] = inbound(receiver)
    assert message["interactive"] == {"type": "list_reply", "list_reply": {
        "id": "docs", "title": "Documentació", "description": "Què cal portar"}}


@pytest.mark.asyncio
@pytest.mark.parametrize("media, kind", [("image", "image"), ("audio", "audio"), ("sticker", "sticker"),
                                         ("location", "location")])
async def test_a_citizen_sends_media(http, simulator, receiver, media, kind):
    await reply(http, simulator, {"msisdn": CITIZEN, "media": media})
    [message] = inbound(receiver)
    assert message["type"] == kind
    if kind == "location":
        assert {"latitude", "longitude"} <= set(message["location"])
    else:
        assert message[kind]["id"].isdigit() and message[kind]["mime_type"]


@pytest.mark.asyncio
async def test_a_duplicate_delivery_sends_the_identical_signed_body_twice(http, simulator, receiver):
    answer = await reply(http, simulator, {"msisdn": CITIZEN, "text": "Hola", "deliveries": 2})
    assert answer["webhook_statuses"] == [200, 200]
    first, second = receiver.requests
    assert first.body == second.body
    assert_signed(first)
    assert_signed(second)


@pytest.mark.asyncio
async def test_the_phone_shows_a_cloud_template_like_a_messagebird_one(http, simulator, receiver):
    wamid = await send(http, simulator, reminder_body())
    await receiver.wait_for(lambda r: len(r) == 3)
    status, messages, _ = await call(http, simulator, "GET", "/sim/messages?msisdn=%2B34612345678")
    assert status == 200
    [reminder] = messages
    assert reminder["id"] == wamid and reminder["type"] == "hsm"
    assert reminder["rendered"].startswith("Hola, Montserrat. Us recordem la vostra cita prèvia")
    assert reminder["buttons"] == [{"index": 0, "title": "Confirmo la cita"},
                                   {"index": 1, "title": "Anul·la la cita"}]
    _, log, _ = await call(http, simulator, "GET", "/sim/webhooks")
    assert [(e["type"], e["message_id"], e["message_status"], e["status_code"]) for e in log] == [
        ("message.updated", wamid, status, 200) for status in ("sent", "delivered", "read")]
