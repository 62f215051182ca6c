"""Rasa 3.6.21's graph runner, without dask's scheduler, for the server.

Every message and every reminder runs Rasa's prediction graph (NLU, then
the policies) through `DaskGraphRunner.run`, which first works out the
graph's part the targets need (walking the dependencies again, per call),
then hands a task graph to dask's synchronous scheduler. With a dozen
nodes run one after another in one thread, the scheduler's bookkeeping and
the dependency walk cost more than some of the nodes: about 5 % of the Rasa
server's CPU in a dispatch (python -m bench.rasa_profile).

Here `run` evaluates the same task graph itself: each node once, after the
nodes it needs, with their `(name, output)` pairs as its arguments, as dask
passes them; an input is the same `(name, value)` pair; a need that names
nothing in the graph is passed as its name, as dask passes an unknown key.
The part of the graph each set of targets needs is worked out once. The
result, the errors and the input checks are those of Rasa's runner.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

log = logging.getLogger(__name__)

ORIGINAL: Dict[str, Any] = {}


def _needed_nodes(runner, targets: Tuple[Text, ...]) -> Dict[Text, Tuple[Any, Tuple[Text, ...]]]:
    """node name -> (the instantiated node, the names of what it needs), for `targets`."""
    cache = runner.__dict__.setdefault("_recorda_graphs", {})
    graph = cache.get(targets)
    if graph is None:
        schema = runner._graph_schema.minimal_graph_schema(list(targets))
        graph = cache[targets] = {name: (runner._instantiated_nodes[name], tuple(node.needs.values()))
                                  for name, node in schema.nodes.items()}
    return graph


def run(self, inputs: Optional[Dict[Text, Any]] = None,
        targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
    """DaskGraphRunner.run, evaluated in order without dask."""
    from rasa.engine.exceptions import GraphRunError

    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    graph = _needed_nodes(self, run_targets)
    values: Dict[Text, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in graph:
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema.")
        values[name] = (name, value)

    def evaluate(key: Text, path: Tuple[Text, ...] = ()) -> Any:
        if key in values:
            return values[key]
        if key not in graph:
            return key  # as dask: a name that is not in the graph is passed as it is
        if key in path:
            raise GraphRunError("Error running runner.") from RuntimeError(f"cycle through '{key}'")
        node, needs = graph[key]
        value = values[key] = node(*(evaluate(need, path + (key,)) for need in needs))
        return value

    return dict(evaluate(target) for target in run_targets)


def apply() -> bool:
    """Installs it once; False when Rasa's runner is not the one it replaces."""
    from rasa.engine.runner.dask import DaskGraphRunner

    if ORIGINAL:
        return True
    if not all(hasattr(DaskGraphRunner, name) for name in ("run", "_instantiate_nodes")):
        log.warning("Rasa's DaskGraphRunner is not the one this speed-up replaces; not applied")
        return False
    ORIGINAL["run"] = DaskGraphRunner.run
    DaskGraphRunner.run = run
    return True
