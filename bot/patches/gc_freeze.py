"""The Rasa server, once its model is loaded, takes what it holds out of the
cycle collector's reach (`gc.freeze`).

A Rasa worker holds about half a million long-lived objects once the
model is loaded (525,422 frozen with this project's model: the pipeline,
the policies, their vocabularies, TensorFlow's and NumPy's modules).
Python's collector walks all of them in a full collection: 265 ms in a
process that loaded the model (`Agent.load`, then `gc.collect()`, on the
2-core machine of bench/README.md), during which the worker's event loop
answers no one, and a full collection comes whenever enough objects have
survived since the last one. Frozen, they are no
longer walked; what the messages create afterwards is collected as before.
The frozen objects are the model and the modules, which live as long as
the process anyway.
"""
from __future__ import annotations

import functools
import gc
import logging
from typing import Any, Dict

log = logging.getLogger(__name__)

ORIGINAL: Dict[str, Any] = {}


def _frozen_after(load):
    @functools.wraps(load)
    async def load_then_freeze(*args: Any, **kwargs: Any):
        agent = await load(*args, **kwargs)
        gc.collect()  # what loading left as garbage goes first, not frozen with the rest
        gc.freeze()
        log.info("Model loaded; %d objects kept out of the cycle collector", gc.get_freeze_count())
        return agent
    return load_then_freeze


def apply() -> bool:
    """Installs it once; False when Rasa's server has no `load_agent_on_start`."""
    import rasa.core.run

    if ORIGINAL:
        return True
    load = getattr(rasa.core.run, "load_agent_on_start", None)
    if not callable(load):
        log.warning("Rasa has no rasa.core.run.load_agent_on_start; the collector is left as it is")
        return False
    ORIGINAL["load_agent_on_start"] = load
    rasa.core.run.load_agent_on_start = _frozen_after(load)
    return True
