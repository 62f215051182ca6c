"""A Sanic app served inside the current process on a local port, for the
tests and the benchmarks that talk to a real HTTP server without starting
another process (bot/dev/processes.py starts those)."""
from __future__ import annotations

from sanic import Sanic
from sanic.server.async_server import AsyncioServer


async def serve(app: Sanic, port: int, host: str = "127.0.0.1") -> AsyncioServer:
    """Starts serving `app`; it answers as soon as this returns."""
    server = await app.create_server(host=host, port=port, return_asyncio_server=True, access_log=False)
    assert server is not None  # return_asyncio_server=True always gives the server
    await server.startup()
    await server.start_serving()
    return server


async def shut(server: AsyncioServer) -> None:
    """Stops accepting connections and waits until the server is closed."""
    server.close()
    await server.wait_closed()
