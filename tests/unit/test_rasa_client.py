"""The session Recorda's processes talk to Rasa with opens a new connection
for every request, so Rasa's workers, which share one socket, each take
requests as they are free (bot/messaging/rasa_client.rasa_session)."""
from aiohttp import web

from bot.dev.processes import free_ports
from bot.messaging.rasa_client import rasa_session, trigger_intent


async def test_each_trigger_reaches_rasa_on_a_connection_of_its_own():
    peers, bodies = [], []

    async def trigger(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        bodies.append(await request.json())
        return web.json_response({"tracker": {}, "messages": []})

    app = web.Application()
    app.router.add_post("/conversations/{conversation}/trigger_intent", trigger)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_ports(1)[0]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with rasa_session(limit=4) as session:
            for n in range(3):
                await trigger_intent(session, f"http://127.0.0.1:{port}", "tok", "+34600000001",
                                     "EXTERNAL_appointment_reminder", {"appointment_id": f"A{n}"}, "messagebird")
    finally:
        await runner.cleanup()
    assert [b["entities"]["appointment_id"] for b in bodies] == ["A0", "A1", "A2"]
    assert len(set(peers)) == 3
