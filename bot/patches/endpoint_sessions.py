"""Rasa 3.6.21's HTTP endpoints (the action server above all), with their
connections kept open between calls.

`EndpointConfig.request` opens a new aiohttp session, and so a new TCP
connection, for every call and closes it after: every custom action of
every turn paid a connection's setup and teardown in the Rasa process and in
the action server (the action call was 11 % of Rasa's CPU in a dispatch,
python -m bench.rasa_profile, a third of it making connections).

Here `EndpointConfig.session()` hands out one session per endpoint and event
loop, kept open: Rasa's `async with endpoint.session() as session` gets it
and leaves it open at the end of the block. The session has Rasa's own
settings (the endpoint's headers, basic auth and timeout). Its idle
connections are dropped after IDLE_SECONDS, before a Sanic server (rasa-sdk
keeps 5 s by default) closes its side, so a call is not written into a
connection the server is closing.

Its JSON bodies are encoded with ujson (which Sanic installs and decodes
with on the action server's side): every action call carries the whole
conversation so far, and ujson encodes it in about 40 % of the time of the
standard library (0.36 against 0.89 ms for 80 events), and encodes all
it does.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Dict

import ujson

log = logging.getLogger(__name__)

IDLE_SECONDS = 2.0  # under Sanic's default keep-alive of 5 s

ORIGINAL: Dict[str, Any] = {}


class _KeptSession:
    """What `async with endpoint.session()` enters: the endpoint's open
    session, which the end of the block leaves open."""

    def __init__(self, session) -> None:
        self._session = session

    async def __aenter__(self):
        return self._session

    async def __aexit__(self, *_exc) -> None:
        return None


def _new_session(config):
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    auth = (aiohttp.BasicAuth(config.basic_auth["username"], config.basic_auth["password"])
            if config.basic_auth else None)
    return aiohttp.ClientSession(headers=config.headers, auth=auth,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                                 connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_SECONDS),
                                 json_serialize=ujson.dumps)


def _kept_session(self) -> _KeptSession:
    """EndpointConfig.session: this endpoint's session in the running loop."""
    loop = asyncio.get_running_loop()
    sessions = self.__dict__.get("_recorda_sessions")
    if sessions is None:
        # By loop, weakly: a test's or a worker's finished loop takes its session along.
        sessions = self._recorda_sessions = weakref.WeakKeyDictionary()
    session = sessions.get(loop)
    if session is None or session.closed:
        session = sessions[loop] = _new_session(self)
    return _KeptSession(session)


def apply() -> bool:
    """Installs it once; False when Rasa's EndpointConfig is not the one it replaces."""
    from rasa.utils.endpoints import EndpointConfig

    if ORIGINAL:
        return True
    if not callable(getattr(EndpointConfig, "session", None)) or not callable(getattr(EndpointConfig, "request", None)):
        log.warning("Rasa's EndpointConfig is not the one this speed-up replaces; not applied")
        return False
    ORIGINAL["session"] = EndpointConfig.session
    EndpointConfig.session = _kept_session
    return True
