"""The Rasa server with Recorda's patches: `python -m bot.apps.rasa_server
run ...` takes exactly the arguments of `rasa run ...`. It applies
bot.patches (refused, with a warning, on another Rasa version) and then hands
over to Rasa's own command line, so start Rasa this way wherever it serves
citizens; plain `rasa run` works too, without the patches.

It also sets up Recorda's log format and metrics for this process
(bot.apps.operations; docs/monitoring.md). Rasa's command line installs
coloredlogs on the root logger after reading its arguments: with
RECORDA_LOG_FORMAT=json, a hook of Rasa's plug-in manager that runs right
after that puts the JSON lines back."""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional

import pluggy

from bot import patches
from bot.apps.operations import start_process
from bot.foundation.logs import configure_logging, json_requested

PROCESS = "rasa"
log = logging.getLogger("recorda.rasa_server")


class JsonLogsAfterRasa:
    """A Rasa plug-in (rasa.plugin's hooks)."""

    @pluggy.HookimplMarker("rasa")
    def configure_commandline(self, cmdline_arguments: argparse.Namespace) -> Optional[str]:
        # Called by rasa.__main__ after coloredlogs replaced the root handler.
        # The level stays Rasa's (--debug, LOG_LEVEL).
        configure_logging(PROCESS, level=None)
        return None  # no endpoints file of ours


def main() -> None:
    start_process(PROCESS)
    if json_requested():
        from rasa.plugin import plugin_manager
        plugin_manager().register(JsonLogsAfterRasa())
    if patches.apply_to_rasa():
        # One line in the log says which fixes this server runs with.
        log.info("Recorda: patches applied to Rasa %s", patches.PINNED_RASA)
    from rasa.__main__ import main as rasa_main
    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
