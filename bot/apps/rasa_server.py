"""The Rasa server with Recorda's patches: `python -m bot.apps.rasa_server
run ...` takes exactly the arguments of `rasa run ...`. It applies
bot.patches (refused, with a warning, on another Rasa version) and then hands
over to Rasa's own command line, so start Rasa this way wherever it serves
citizens; plain `rasa run` works too, without the patches."""
from __future__ import annotations

import sys

from bot import patches


def main() -> None:
    if patches.apply_to_rasa():
        # One line in the log says which fixes this server runs with.
        print(f"Recorda: patches applied to Rasa {patches.PINNED_RASA}", file=sys.stderr, flush=True)
    from rasa.__main__ import main as rasa_main
    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
