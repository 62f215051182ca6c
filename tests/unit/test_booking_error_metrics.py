"""recorda_booking_errors_total{operation, kind}: every failed call of the
REST booking adapter, against a stand-in booking system on a local port
that fails in each way (and one port where nothing listens)."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.booking import AppointmentNotFound, BookingRefused, BookingUnavailable
from bot.booking.rest import RestBookingSystem
from bot.dev.processes import free_port
from bot.foundation import metrics


def errors(operation: str, kind: str) -> float:
    return metrics._REGISTRY.get_sample_value(
        "recorda_booking_errors_total",
        {"process": metrics.process_name(), "operation": operation, "kind": kind}) or 0.0


@pytest.fixture
async def failing_booking():
    """A booking API whose every route fails its own way."""
    async def down(_):
        return web.json_response({"error": {"code": "down", "message": "maintenance"}}, status=503)

    async def not_found(_):
        return web.json_response({"error": {"code": "not_found", "message": "no such appointment"}}, status=404)

    async def refused(_):
        return web.json_response({"error": {"code": "already_cancelled", "message": "cancelled"}}, status=409)

    async def slow(_):
        await asyncio.sleep(2)
        return web.json_response({"url": "https://example.org"})

    async def html(_):
        return web.Response(text="<html>proxy error page</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/offices", down)
    app.router.add_get("/appointments/A404", not_found)
    app.router.add_post("/appointments/A409/cancel", refused)
    app.router.add_get("/booking-link", slow)
    app.router.add_get("/procedures/p1", html)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    system = RestBookingSystem(f"http://127.0.0.1:{port}", "token", timeout=0.3, retries=1)
    system.BACKOFF_SECONDS = 0.01
    yield system
    await system.close()
    await runner.cleanup()


async def test_each_kind_of_failure_is_counted_per_attempt(failing_booking):
    cases = [
        ("list_offices", "server_error", failing_booking.list_offices(), BookingUnavailable, 2),
        ("get_appointment", "refused", failing_booking.get_appointment("A404"), AppointmentNotFound, 1),
        ("cancel", "refused", failing_booking.cancel("A409"), BookingRefused, 1),
        ("booking_link", "timeout", failing_booking.booking_link("ca"), BookingUnavailable, 2),
        ("get_procedure", "invalid_response", failing_booking.get_procedure("p1"), BookingUnavailable, 1),
    ]
    for operation, kind, call, raised, attempts in cases:
        before = errors(operation, kind)
        with pytest.raises(raised):
            await call
        # Retried failures (5xx, time-outs) count once per attempt; 4xx are not retried.
        assert errors(operation, kind) - before == attempts, (operation, kind)


async def test_a_booking_system_nobody_listens_at_counts_connection_errors():
    system = RestBookingSystem(f"http://127.0.0.1:{free_port()}", "token", timeout=1.0, retries=2)
    system.BACKOFF_SECONDS = 0.01
    before = errors("confirm", "connection")
    try:
        with pytest.raises(BookingUnavailable):
            await system.confirm("A1")
    finally:
        await system.close()
    assert errors("confirm", "connection") - before == 3
