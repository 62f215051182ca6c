"""Fixes to the platform Recorda runs on (Rasa, Sanic), applied explicitly by
the entry points at start-up, and only on the versions they were written for:
each replaces an internal of that version, and on another version it would
patch something it does not know. A refused patch is a warning, not a stop:
Recorda works without them, slower (the speed-ups) or exposed to one bad
header (the Sanic guard).

    apply_to_rasa()   the Rasa server (python -m bot.apps.rasa_server)
    apply_to_sanic()  the other Sanic servers: action server, web app
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# The Rasa of requirements.txt (tests/unit/test_patches.py keeps the two equal).
PINNED_RASA = "3.6.21"

_rasa_patched = False


def installed_rasa() -> str:
    import rasa
    return rasa.__version__


def apply_to_rasa() -> bool:
    """The speed-ups and the Sanic guard, in the Rasa server's process; False
    (with a warning) when the installed Rasa is not the pinned one."""
    global _rasa_patched
    from bot.patches import (
        endpoint_sessions,
        gc_freeze,
        graph_runner,
        rasa_speedups,
        sanic_guard,
        tracker_store_speedups,
    )

    version = installed_rasa()
    if version != PINNED_RASA:
        log.warning("Rasa %s is installed, Recorda's patches are for %s: none applied "
                    "(install requirements.txt)", version, PINNED_RASA)
        return False
    _rasa_patched = (rasa_speedups.apply() and tracker_store_speedups.apply() and endpoint_sessions.apply()
                     and graph_runner.apply() and gc_freeze.apply() and sanic_guard.apply())
    return _rasa_patched


def apply_to_sanic() -> bool:
    """The negative Content-Length guard, in a Sanic server of Recorda's own."""
    from bot.patches import sanic_guard
    return sanic_guard.apply()


def rasa_patched() -> bool:
    """Whether apply_to_rasa() ran and applied everything in this process."""
    return _rasa_patched
