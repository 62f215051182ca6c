"""Sanic 21.12 (the version Rasa 3.6 pins) spins forever on a request whose
Content-Length is negative, and stops answering anyone: one bad header from
anyone who reaches a Recorda server would freeze it. `apply()` makes such a
request a 400 before any body is read. Applied at start-up by every Recorda process that
serves HTTP (bot.patches: the Rasa server, the action server, the web app);
a no-op on another Sanic version.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

PATCHED_SANIC = "21.12"
_applied = False


def apply() -> bool:
    """Installs the check once; False when the installed Sanic is not the one
    the check was written for (then nothing is changed)."""
    global _applied
    if _applied:
        return True
    import sanic
    from sanic.exceptions import InvalidUsage
    from sanic.request import Request

    if not sanic.__version__.startswith(PATCHED_SANIC):
        log.warning("Sanic %s is not %s: the negative Content-Length guard is not applied",
                    sanic.__version__, PATCHED_SANIC)
        return False
    original = Request.receive_body

    # Sanic calls receive_body before any non-streaming handler (streaming
    # ones check the length themselves, e.g. the WhatsApp webhook).
    async def receive_body(self):
        stream = self.stream
        left = getattr(stream, "request_bytes_left", None)
        if left is not None and left < 0:
            # Nothing is read, not even afterwards: the connection closes.
            stream.request_body = None
            stream.keep_alive = False
            raise InvalidUsage("Bad Content-Length")
        await original(self)

    Request.receive_body = receive_body
    _applied = True
    return True
