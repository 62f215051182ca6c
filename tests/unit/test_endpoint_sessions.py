"""Rasa's endpoints (the action server) keep their connection between calls,
with Rasa's own request settings, and recover when the server goes away."""
import asyncio

import pytest
from aiohttp import web

from bot.dev.processes import free_ports
from bot.patches import endpoint_sessions


@pytest.fixture(scope="module", autouse=True)
def applied():
    endpoint_sessions.apply()


class CountingServer:
    """An HTTP server that counts the connections its requests came on and
    keeps what each request carried."""

    def __init__(self) -> None:
        self.peers = set()  # the client's (address, port) of each connection
        self.requests = []
        self.port = free_ports(1)[0]
        self.runner = None

    @property
    def connections(self) -> int:
        return len(self.peers)

    async def start(self) -> None:
        async def answer(request: web.Request) -> web.Response:
            self.peers.add(request.transport.get_extra_info("peername"))
            self.requests.append({"auth": request.headers.get("Authorization"),
                                  "header": request.headers.get("X-Town"),
                                  "token": request.query.get("token"), "body": await request.json()})
            return web.json_response({"events": [], "responses": [], "n": len(self.requests)})

        app = web.Application()
        app.router.add_post("/webhook", answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def server():
    """A started CountingServer, stopped after the test."""
    started = CountingServer()
    await started.start()
    yield started
    await started.stop()


async def test_calls_to_one_endpoint_share_one_connection_with_rasas_settings(server):
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook", headers={"X-Town": "Vic"},
                              basic_auth={"username": "rasa", "password": "secret"}, token="t0k")
    answers = [await endpoint.request(json={"i": i}, method="post") for i in range(5)]
    assert [a["n"] for a in answers] == [1, 2, 3, 4, 5]
    assert server.connections == 1
    assert [r["body"] for r in server.requests] == [{"i": i} for i in range(5)]
    assert all(r["header"] == "Vic" and r["token"] == "t0k" and r["auth"].startswith("Basic ")
               for r in server.requests)
    # Calls at the same moment each get a connection, then they are reused.
    await asyncio.gather(*(endpoint.request(json={"i": i}) for i in range(3)))
    assert server.connections <= 3 and len(server.requests) == 8


async def test_a_restarted_server_is_reached_again():
    from rasa.utils.endpoints import EndpointConfig

    server = CountingServer()
    await server.start()
    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook")
    assert (await endpoint.request(json={"i": 1}))["n"] == 1
    await server.stop()
    again = CountingServer()
    again.port = server.port
    await again.start()
    try:
        assert (await endpoint.request(json={"i": 2}))["n"] == 1
        assert again.connections == 1
    finally:
        await again.stop()


async def test_an_error_answer_still_raises_rasas_error(server):
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/no-such-path")
    with pytest.raises(ClientResponseError) as raised:
        await endpoint.request(json={})
    assert raised.value.status == 404


async def test_bodies_arrive_as_the_same_json(server):
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig(f"http://127.0.0.1:{server.port}/webhook")
    body = {"text": "a quina hora és? 👍 «cita» https://x.cat/a/b", "confidence": 0.9876543210987654,
            "events": [{"n": i, "t": 1765152345.1234567} for i in range(3)], "none": None,
            "big": 2 ** 70, "intent_ranking": []}
    await endpoint.request(json=body)
    assert server.requests[-1]["body"] == body
